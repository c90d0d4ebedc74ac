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


def test_chosen_cells_run_seed_major(monkeypatch):
    """Each seed of every chosen cell before the next seed: an interrupted run's progress lines make a balanced table."""
    from labelstream.simulate.soundness import RunOutcome, cells, run_bench

    def fake(job):  # the harness's order only: no simulation
        stream, reviewer, seed, _config = job
        return RunOutcome(stream.name, reviewer.name, seed, False, 0.0, None)

    monkeypatch.setattr(soundness_module, "_run_job", fake)
    chosen = cells(("-0.01", "+0.01"), ("instant", "late-noisy"))
    order: list[tuple[int, str, str]] = []
    summary = run_bench(SoundnessConfig(records=1000, seeds=3), 1, lambda r: order.append((r.seed, r.stream, r.reviewer)), chosen)
    assert [seed for seed, _, _ in order] == [0] * 4 + [1] * 4 + [2] * 4
    assert {(s, r) for _, s, r in order} == {(s.name, r.name) for s, r in chosen}
    assert [len(cell.runs) for cell in summary["cells"]] == [3, 3, 3, 3]
    text = soundness_markdown(summary | {"machine": {"date": "d", "arch": "a", "cpus": "2", "python": "3"}},
                              "labelstream bench soundness")
    assert "**Chosen rows** (4 of the 9" in text


def test_the_command_names_an_unknown_stream():
    from typer.testing import CliRunner

    from labelstream.cli.main import app

    result = CliRunner().invoke(app, ["bench", "soundness", "--stream", "-0.5", "--seeds", "1"])
    message = str(result.exception)  # the CLI's entry point prints it as one "error: ..." line
    assert result.exit_code != 0 and "invalid --stream '-0.5'" in message and "-0.01, -0.02, +0.01, +0.03" in message


def test_the_pool_rows_run_a_pool_with_the_settings_hold_rule():
    from labelstream.simulate.reviewer_pool import ReviewerPool
    from labelstream.simulate.soundness import REVIEWER_KEYS

    row = REVIEWER_KEYS["pool-gold-holds"]
    pool = row.build(0)
    assert isinstance(pool, ReviewerPool) and [m.error_rate for m in pool.members] == [0.01, 0.02, 0.25]
    assert pool.hold_below == 0.9 and not isinstance(REVIEWER_KEYS["late-noisy"].build(0), ReviewerPool)
    outcome = run_one(BELOW, row, 0, QUICK)  # the simulation refuses a pool whose hold rule is not the settings'
    assert not outcome.failed and outcome.auto_share == 0.0
