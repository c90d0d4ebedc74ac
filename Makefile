# labelstream developer commands. `make help` lists them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STACK := deploy/stack.sh

.PHONY: help setup packages up down status test test-unit demo schemas reliability clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed  ## create .venv and install labelstream with its dev extras

packages:  ## install the missing Debian packages the stack and tests need (deploy/debian-packages.txt)
	deploy/debian-packages.sh install

up: setup packages  ## start Kafka + Redis (no Docker) and create the topics
	$(STACK) start
	$(VENV)/bin/labelstream topics create

demo: up  ## the whole loop live, with the review page and simulated reviewers
	$(VENV)/bin/labelstream demo

down:  ## stop what `make up` started
	$(STACK) stop

status:  ## is the stack running?
	$(STACK) status

test: setup packages  ## run the whole test suite against the running stack
	$(PY) -m pytest

test-unit: setup  ## only the tests that need no services
	$(PY) -m pytest -m "not integration and not faults" tests/core tests/test_settings.py services

reliability: setup  ## the fault suite at 200k records and 5-minute outages (about 25 min), figures into RELIABILITY.md
	$(PY) bench/faults.py --records 200000 --seed 6 --rate 1000

schemas: setup  ## regenerate schemas/ from the pydantic models
	$(VENV)/bin/labelstream schemas export

clean: down  ## stop the stack and delete its data
	rm -rf .stack
