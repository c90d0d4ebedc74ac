# labelstream developer commands. `make help` lists them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STACK := deploy/stack.sh

.PHONY: help setup packages up down status test test-unit demo schemas reliability clean lock lock-upgrade

help:  ## list the commands
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

LOCKS := requirements/build.txt requirements/runtime.txt requirements/dev.txt
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
UV_COMPILE = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(UV_FLAGS)

# The exact versions of requirements/ (hashes checked), then labelstream itself
# (editable, built by the pinned setuptools of requirements/build.txt).
$(VENV)/.installed: pyproject.toml $(LOCKS)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/build.txt -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed  ## create .venv and install labelstream with its dev + fuzz extras, as locked

$(UV):
	$(PY) -m pip install -q uv==$(UV_VERSION)

# Regenerate the lockfiles from pyproject.toml, keeping every pin that still fits
# (a dependency added to pyproject.toml gets its newest version; nothing else moves).
lock: setup $(UV)  ## regenerate requirements/*.txt after a change of pyproject.toml's dependencies
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV_COMPILE) - -o requirements/build.txt
	$(UV_COMPILE) pyproject.toml --extra dev --extra fuzz -o requirements/dev.txt
	cp requirements/dev.txt requirements/runtime.txt  # same versions as the tests ran with
	$(UV_COMPILE) pyproject.toml -o requirements/runtime.txt

lock-upgrade:  ## the same, moving every pin to its newest version (then run make test)
	$(MAKE) lock UV_FLAGS=--upgrade

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

# Two workers (pytest-xdist) share the one broker and Redis: every test has its own topics and keys. The
# tests that stop the shared broker or Redis (marker stack_outage) then run alone; both parts always run.
TEST_WORKERS ?= 2
test: setup packages  ## run the whole test suite against the running stack (TEST_WORKERS=2 in parallel)
	@status=0; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not stack_outage" || status=$$?; \
	$(PY) -m pytest -m stack_outage || status=$$((status ? status : $$?)); \
	exit $$status

test-unit: setup  ## only the tests that need no services
	$(PY) -m pytest -m "not integration and not faults" tests/core tests/test_settings.py services

reliability: setup  ## the fault suite at 200k records, 5-minute outages and the 3-broker cluster (about 45 min), figures into RELIABILITY.md
	$(PY) bench/faults.py --records 200000 --seed 6 --rate 1000

schemas: setup  ## regenerate schemas/ from the pydantic models
	$(VENV)/bin/labelstream schemas export

clean: down  ## stop the stack and delete its data
	rm -rf .stack
