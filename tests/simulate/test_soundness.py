"""The soundness benchmark's harness: it catches a policy without a contract, and the contract passes it."""

from __future__ import annotations

import doctest

import labelstream.simulate.soundness as soundness_module
from labelstream.simulate.soundness import STREAMS, ReviewerConfig, SoundnessConfig, run_one, soundness_markdown

QUICK = SoundnessConfig(records=3000, seeds=1, checkpoint=500)
BELOW, ABOVE = STREAMS[0], STREAMS[-1]


def test_a_fixed_threshold_on_a_stream_below_the_target_fails():
    """Noise caps every threshold at target - 0.01: a naive threshold policy auto-labels, so it must fail."""
    naive = SoundnessConfig(records=3000, seeds=1, policy={"name": "threshold", "confidence_threshold": 0.9})
    outcome = run_one(BELOW, ReviewerConfig("instant"), 0, naive)
    assert outcome.failed and outcome.first_failure is not None and outcome.auto_share > 0.3


def test_the_contract_passes_where_no_threshold_is_good():
    outcome = run_one(BELOW, ReviewerConfig("delay 500", delay="500"), 0, QUICK)
    assert not outcome.failed and outcome.auto_share == 0.0


def test_checkpoints_judge_a_stream_above_the_target():
    """Above the ceiling a naive low threshold is bad (true precision from clean labels), a high one is not."""
    low = SoundnessConfig(records=3000, seeds=1, checkpoint=500, policy={"name": "threshold", "confidence_threshold": 0.5})
    high = SoundnessConfig(records=3000, seeds=1, checkpoint=500, policy={"name": "threshold", "confidence_threshold": 0.99})
    assert run_one(ABOVE, ReviewerConfig("instant"), 0, low).failed
    assert not run_one(ABOVE, ReviewerConfig("instant"), 0, high).failed


def test_the_markdown_names_the_promise_and_each_row():
    from labelstream.simulate.soundness import Cell

    cell = Cell(BELOW, ReviewerConfig("instant"))
    cell.runs.append(run_one(BELOW, ReviewerConfig("instant"), 0, QUICK))
    text = soundness_markdown({"cells": [cell], "config": QUICK, "machine": {"date": "d", "arch": "a", "cpus": "2",
                               "python": "3"}, "seconds": 60, "jobs": 1}, "labelstream bench soundness")
    assert "| ceiling target-0.01 | instant | 1 | 0 |" in text and "kept" in text


def test_doctests():
    assert doctest.testmod(soundness_module).failed == 0
