"""The review budget: never exceeded over any prefix of the stream by more than one record."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.strategies import LeastConfidence


def prefix_excess(outcomes: list[bool], share: float) -> float:
    """The largest ``reviews - share * records`` over every prefix of the stream."""
    reviews, worst = 0, 0.0
    for n, reviewed in enumerate(outcomes, start=1):
        reviews += reviewed
        worst = max(worst, reviews - share * n)
    return worst


@settings(max_examples=200, deadline=None)
@given(
    share=st.floats(0.01, 1.0),
    reserve=st.floats(0.0, 0.9),
    requests=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=400),
)
def test_share_is_never_exceeded_by_more_than_one_record(share, reserve, requests):
    budget = ReviewBudget(share=share, reserve=reserve)
    reviewed = []
    for wants_review, reserved in requests:
        budget.count_record()
        reviewed.append(wants_review and budget.try_spend(reserved))
    assert prefix_excess(reviewed, share) <= 1.0 + 1e-9


def test_reserve_keeps_room_for_reserved_reviews():
    budget = ReviewBudget(share=0.2, reserve=0.5)
    for _ in range(1000):
        budget.count_record()
        budget.try_spend()  # uncertain records take all they may
    assert budget.reviews <= 0.1 * 1000 + 1
    assert budget.try_spend(reserved=True)  # an audit still fits


def test_rate_never_exceeds_one_plus_rate_times_minutes():
    now = [0.0]
    budget = ReviewBudget(per_minute=30, reserve=0.0, clock=lambda: now[0])
    granted_at = []
    for step in range(6000):  # one request every 0.1 s for 10 minutes
        now[0] = step * 0.1
        if budget.try_spend():
            granted_at.append(now[0])
    for i, start in enumerate(granted_at):
        later = [t for t in granted_at[i:] if t - start <= 60.0]
        assert len(later) <= 30 + 1
    assert len(granted_at) <= 1 + 30 * 10


def test_admission_rate_tracks_the_share_of_requests_let_through():
    budget = ReviewBudget(share=0.25, reserve=0.0)
    for _ in range(2000):
        budget.count_record()
        budget.try_spend()
    assert math.isclose(budget.admission_rate(), 0.25, abs_tol=0.05)


def test_contract_policy_keeps_every_prefix_within_budget():
    """Cold start, audits, boundary reviews and the strategy all pass through one gate."""
    rng = random.Random(4)
    policy = ContractPolicy(
        PrecisionCalibrator(), LeastConfidence(seed=1), ReviewBudget(share=0.3), audit_share=0.2,
        boundary_share=0.2, cold_start_records=50, cold_start_corrections=0, seed=2,
    )
    reviewed = []
    for _ in range(3000):
        score = rng.uniform(0.5, 1.0)
        prediction = Prediction.from_probabilities({"a": score, "b": 1 - score})
        decision = policy.decide(prediction, n_learned=1000)
        reviewed.append(decision.outcome == "review")
        if decision.outcome == "review":
            policy.learn(Evidence(prediction, "a" if rng.random() < score else "b", decision.reason,
                                  decision.inclusion_probability))
    assert prefix_excess(reviewed, 0.3) <= 1.0
    assert sum(reviewed) > 0.25 * 3000  # and it is used
