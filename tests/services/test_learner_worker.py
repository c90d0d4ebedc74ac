"""The learner's faust worker (:mod:`labelstream.learner.worker`) as a real process whose output is a log file."""

from __future__ import annotations

import time

import pytest

from labelstream.processes import service

pytestmark = pytest.mark.integration


def test_a_learner_logging_to_a_file_writes_no_terminal_escape_codes(settings_factory, tmp_path):
    settings = settings_factory(partitions=1)
    learner = service(settings, "learner", tmp_path)
    try:
        learner.start().wait_until_serving()
        deadline = time.monotonic() + 60
        while not (learner.health() or {}).get("ready") and time.monotonic() < deadline:
            time.sleep(0.2)  # until faust's startup is over: its spinner would have drawn and finished by then
        assert (learner.health() or {}).get("ready"), learner.health()
    finally:
        code = learner.stop()
    assert code == 0
    log = learner.log_path.read_text(errors="replace")
    assert "metrics and health on" in log  # it did log into this file
    assert "\x1b[" not in log and "\b" not in log, repr(log[:400])
