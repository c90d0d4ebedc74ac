"""Warm start: version 1 from labeled history, its calibration seeded with held-out evidence that keeps the promise."""

from __future__ import annotations

import random

from river.datasets import synth

from labelstream.core.bootstrap import warm_start
from labelstream.core.build import build_engine, build_policy
from labelstream.core.schemas import Record
from labelstream.settings import load_settings


def history(size: int, seed: int, flip: float = 0.0) -> list[tuple[Record, str]]:
    rng = random.Random(seed)
    rows = []
    for i, (x, y) in enumerate(synth.SEA(variant=0, seed=seed).take(size)):
        label = str(y) if rng.random() >= flip else str(not y)
        rows.append((Record(id=f"h{i}", features={str(k): v for k, v in x.items()}), label))
    return rows


def bootstrapped(rows, holdout_share=0.3):
    settings = load_settings(policy={"review_budget_share": 0.3})
    engine = build_engine(settings)
    unlimited = settings.policy.model_copy(update={"review_budget_share": None})
    result = warm_start(engine, rows, lambda: build_policy(unlimited, settings.model), holdout_share, seed=4)
    return engine, result


def test_held_out_answers_prove_thresholds_that_hold_on_the_stream_that_follows():
    engine, result = bootstrapped(history(4000, seed=1))
    assert result.trained + result.held_out == 4000 and 1000 < result.held_out < 1400
    assert engine.model.n_learned == result.trained  # held-out rows are evidence only
    assert result.evidence == result.held_out
    assert any(t is not None for t in result.thresholds.values())
    fresh = history(3000, seed=2)
    predictions = engine.score([record for record, _ in fresh])
    accepted = [(p.label == label) for p, (_, label) in zip(predictions, fresh, strict=True) if engine.policy.accepts(p)]
    assert len(accepted) > 1000
    assert sum(accepted) / len(accepted) >= 0.95  # the target, on records the evidence never saw


def test_wrong_history_proves_nothing():
    """Control: with 40 % of the labels flipped, no class reaches 95 % precision, so nothing may be proven."""
    engine, result = bootstrapped(history(4000, seed=1, flip=0.4))
    assert result.evidence > 1000
    assert all(t is None for t in result.thresholds.values()), result.thresholds


def test_the_held_out_answers_stay_to_recheck_the_next_versions():
    """The held-out answers are the generation's first kept answers: the next version is re-tested on them too."""
    engine, result = bootstrapped(history(4000, seed=1))
    assert result.kept == result.evidence > 1000
    assert len(engine.policy.kept_answers()["answers"]) == result.kept
    engine.policy.recheck_version(engine.model)  # the next version, before any answer from the stream
    assert any(engine.policy.recheck.validated.values())  # without the held-out answers: nothing to validate on
