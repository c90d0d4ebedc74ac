"""ContractPolicy.decide_many (the labeler's batches) decides exactly what decide does record by record."""

from __future__ import annotations

import random

import pytest

from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.policy.base import Evidence, Policy, Prediction
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.strategies import Split, VariableUncertainty


def contract(seed: int, **kw) -> ContractPolicy:
    """A policy on a fake clock (the per-minute budget refills by it) with evidence for "spam" only."""
    clock = iter(range(10**9)).__next__
    budget = ReviewBudget(share=kw.pop("share", 0.2), per_minute=kw.pop("per_minute", None), clock=lambda: clock() * 0.01)
    strategy = Split(seed=seed) if kw.pop("split", True) else VariableUncertainty(seed=seed)
    policy = ContractPolicy(PrecisionCalibrator(), strategy, budget, seed=seed, **kw)
    rng = random.Random(seed)
    for _ in range(300):  # flawless answers above 0.9: "spam" gets a threshold, "ham" has none
        score = rng.uniform(0.9, 1.0)
        policy.learn(Evidence(prediction(score, "spam"), "spam", "cold_start",
                              context={"outcome": "review", "generation": policy.generation, "p_review": 1.0}))
    return policy


def prediction(score: float, label: str) -> Prediction:
    other = "ham" if label == "spam" else "spam"
    return Prediction.from_probabilities({label: score, other: 1 - score})


def stream(n: int, seed: int) -> list[Prediction]:
    """Sure and unsure predictions of both classes, and a few of a model that knows nothing."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.01:
            out.append(Prediction.from_probabilities({}))
        else:
            out.append(prediction(rng.choice([rng.uniform(0.5, 1.0), rng.uniform(0.9, 1.0)]), rng.choice(["spam", "spam", "ham"])))
    return out


def state(policy: ContractPolicy) -> tuple:
    budget = policy.budget
    return (budget.records, budget.reviews, dict(budget._admitted), budget._tokens, policy._rng.getstate(),
            policy.strategy._rng.getstate(), policy._boundary.cutoff, policy._alert_left, policy._cold_start._seen)


ALL = {"label confident", "review audit", "review uncertain", "review cold_start", "review drift", "deferred no_evidence",
       "deferred over_budget"}


@pytest.mark.parametrize(("seed", "options", "routes"), [
    (1, {}, ALL),
    (2, {"boundary_share": 0.0, "audit_share": 0.0}, ALL - {"review audit", "review drift"}),
    (3, {"cold_start_records": 700, "boundary_share": 0.2, "audit_share": 0.1, "share": 0.05},
     ALL - {"review uncertain", "review drift"}),
    (4, {"per_minute": 600, "split": False, "guarantee": "overall", "drift_alert_records": 300}, ALL - {"review drift"}),
])
def test_decide_many_decides_what_decide_decides(seed, options, routes):
    one, many = contract(seed, **dict(options)), contract(seed, **dict(options))
    predictions = stream(6000, seed)
    rng = random.Random(seed)
    expected, got = [], []
    start = 0
    while start < len(predictions):  # batches of the sizes the labeler fetches
        chunk = predictions[start:start + rng.choice([1, 3, 64, 500, 2000])]
        if start and rng.random() < 0.2:  # a drift the labeler sees: audits raised for a while, mid-stream
            one.on_drift("confidence")
            many.on_drift("confidence")
        n_learned = 40 if start < 300 else 400  # the cold start ends with the corrections, too
        expected += [Policy.decide_many(one, chunk, n_learned)]
        got += [many.decide_many(chunk, n_learned)]
        assert state(many) == state(one)
        start += len(chunk)
    assert got == expected  # equal decisions, contexts included
    contexts = [list(d.context) for batch in got for d in batch]
    assert contexts == [list(d.context) for batch in expected for d in batch]  # keys in the same order (JSON bytes)
    assert {f"{d.outcome} {d.reason}" for batch in got for d in batch} == routes  # each route taken


def test_decide_many_at_the_threshold_on_nan_scores_and_unknown_classes():
    """Scores exactly at the threshold (auto-labels), NaN scores (never at it: the strategy decides), a class
    without evidence, and a drift alert ending within a batch: decide_many decides what decide decides."""
    one, many = contract(5, boundary_share=0.1, drift_alert_records=700), contract(5, boundary_share=0.1, drift_alert_records=700)
    at = one.threshold("spam")
    rng = random.Random(5)
    predictions = []
    for _ in range(4000):
        kind = rng.random()
        if kind < 0.1:
            predictions.append(Prediction({"spam": at, "ham": 1 - at}, "spam", at))
        elif kind < 0.15:
            predictions.append(Prediction({"spam": float("nan"), "ham": float("nan")}, "spam", float("nan")))
        elif kind < 0.2:
            predictions.append(prediction(rng.uniform(0.9, 1.0), "eggs"))
        else:
            predictions.append(prediction(rng.uniform(0.85, 1.0), rng.choice(["spam", "spam", "ham"])))
    expected, got, start = [], [], 0
    for size in [7, 500, 1, 2000, 300, 1192]:
        if start == 507:
            one.on_drift("confidence")
            many.on_drift("confidence")
        chunk = predictions[start:start + size]
        expected += Policy.decide_many(one, chunk, 400)
        got += many.decide_many(chunk, 400)
        assert state(many) == state(one)
        start += size
    assert start == len(predictions)
    assert repr(got) == repr(expected)  # a NaN priority is not equal to itself; its repr is (floats' repr is exact)
    assert [list(d.context) for d in got] == [list(d.context) for d in expected]
    assert sum(d.reason == "confident" and d.context["threshold"] == at for d, p in zip(got, predictions, strict=True) if p.confidence == at) > 200


def test_decide_many_the_raised_audits_end_within_a_run_of_auto_labels():
    """The auto-labels shared within a run take the audit share of their record: the drift's before the alert
    ends, the usual one after it."""
    one, many = contract(5, boundary_share=0.0, drift_alert_records=700), contract(5, boundary_share=0.0, drift_alert_records=700)
    one.on_drift("confidence")
    many.on_drift("confidence")
    sure = [prediction(0.99, "spam") for _ in range(1000)]
    got = many.decide_many(sure, 400)
    assert got == Policy.decide_many(one, sure, 400)
    assert state(many) == state(one)
    last, first = got[699], got[700]  # the last record on alert and the first after it: one run of auto-labels
    assert last.reason == first.reason == "confident" and last.context["p_audit"] > first.context["p_audit"]
