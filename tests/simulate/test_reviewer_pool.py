"""A pool of simulated reviewers (simulate/reviewer_pool.py) in the in-process simulation: who answers, the gold
answers counted under the right name, and the review service's holds reaching the policy (docs/contract.md,
section 5, "Reviewer holds and the gold bound")."""

from __future__ import annotations

import pytest

from labelstream.core.calibration_holds import HeldGoldAccuracyBound
from labelstream.core.calibration_reviewers import GoldAccuracyBound
from labelstream.core.calibration_weighted import StreamWeightedGoldBound
from labelstream.errors import LabelstreamError
from labelstream.settings import load_settings
from labelstream.simulate.reviewer_pool import ReviewerPool, parse_rates, parse_shares
from labelstream.simulate.runner import Simulation
from labelstream.simulate.soundness import STREAM_KEYS

RATES = (0.01, 0.02, 0.3)  # r1, r2 good; r3 bad


def run_pool(
    hold_below: float,
    records: int = 6000,
    seed: int = 4,
    delay: str = "100",
    gold_share: float = 0.2,
    gold_bound: str = "accuracy",
):
    """A SEA stream (ceiling target + 0.03), the pool 100 records late, the gold accuracy bound on."""
    settings = load_settings(
        model={"name": "logistic", "seed": seed},
        policy={
            "review_budget_share": 0.3,
            "seed": seed,
            "reviewer_accuracy_from_gold": True,
            "gold_bound": gold_bound,
        },
        review={"gold_share": gold_share, "gold_hold_below": hold_below},
    )
    pool = ReviewerPool(RATES, delay=delay, hold_below=hold_below, seed=seed)
    simulation = Simulation(settings, batch_size=10, reviewer=pool)
    result = simulation.run(STREAM_KEYS["+0.03"].rows(records, seed, 0.95))
    return simulation, result.report


def test_the_bad_reviewer_is_held_answers_nothing_after_and_leaves_the_bound():
    simulation, report = run_pool(hold_below=0.9)
    members = {m["name"]: m for m in report["reviewers"]}
    assert members["r3"]["holds"] and not members["r1"]["holds"] and not members["r2"]["holds"]
    held_at = members["r3"]["holds"][0]
    answered_by_r3 = [index for index, name in simulation.answered_by.items() if name == "r3"]
    # r3 answered until the gold answer that held them (at that record), and nothing after it
    assert answered_by_r3 and max(answered_by_r3) == held_at
    assert all(name != "r3" for index, name in simulation.answered_by.items() if index > held_at)
    assert sum(m["answers"] for m in report["reviewers"]) >= len(simulation.answered_by)
    # the policy was told after the hold was decided, with the answers given before it
    (event,) = report["holds"]
    assert event["reviewer"] == "r3" and event["held"] is True and event["told_at"] >= event["decided_at"] == held_at
    # the bound counts exactly r1's and r2's gold answers, each under their own name; r3's left with the hold
    bound = simulation.engine.policy.gold_bound
    assert isinstance(bound, HeldGoldAccuracyBound) and bound.held == {"r3"} and bound.epoch == 1
    counted = bound.state()["reviewers"]
    assert set(counted) == {"r1", "r2"}
    for name in ("r1", "r2"):
        assert counted[name] == [members[name]["gold_answers"], members[name]["gold_right"]]
    assert bound.answers == members["r1"]["gold_answers"] + members["r2"]["gold_answers"]
    assert simulation.engine.policy.calibrator.reviewer_accuracy == bound.upper() > 0.97
    assert report["gold_answers"] == sum(m["gold_answers"] for m in report["reviewers"])


def test_without_holds_every_reviewer_answers_and_the_pooled_bound_counts_them_all():
    simulation, report = run_pool(hold_below=0.0)
    members = {m["name"]: m for m in report["reviewers"]}
    assert report["holds"] == [] and all(not m["holds"] for m in members.values())
    shares = [m["answers"] / sum(n["answers"] for n in members.values()) for m in members.values()]
    assert all(0.28 < share < 0.39 for share in shares)  # uniform
    late = [name for index, name in simulation.answered_by.items() if index > 4000]
    assert late.count("r3") > 0.25 * len(late)
    bound = simulation.engine.policy.gold_bound
    assert isinstance(bound, GoldAccuracyBound) and not isinstance(bound, HeldGoldAccuracyBound)
    assert bound.answers == report["gold_answers"]
    pooled = sum(m["gold_right"] for m in members.values()) / report["gold_answers"]
    assert pooled < 0.92 and simulation.engine.policy.calibrator.reviewer_accuracy == bound.upper() < 0.95


def test_shares_weigh_the_choice_and_a_held_reviewers_share_goes_to_the_others():
    pool = ReviewerPool([0.0, 0.0, 1.0], shares=[3, 1, 1], hold_below=0.5, hold_min_answers=10, seed=1)
    chosen = [pool.choose(i) for i in range(5000)]
    assert 0.57 < chosen.count("r1") / 5000 < 0.63 and 0.17 < chosen.count("r3") / 5000 < 0.23
    for index in range(10):
        pool.gold_answer("r3", False, index)
    assert pool.changes(10) == [("r3", True)] and pool.held == {"r3"}
    after = [pool.choose(i) for i in range(5000)]
    assert "r3" not in after and 0.72 < after.count("r1") / 5000 < 0.78  # 3 : 1
    assert pool.choose(0, exclude="r1") == "r2"  # an overlap item's second answer: another reviewer not held


def test_a_window_that_forgets_the_answers_behind_a_hold_releases_it():
    """As the live service's 7 days: the figures cover the last ``window`` records; a held reviewer gives no gold
    answers, so once the window has forgotten enough of theirs the rule no longer holds them."""
    pool = ReviewerPool([0.0, 0.5], hold_below=0.9, hold_min_answers=10, window=100, seed=2)
    for index in range(10):
        pool.gold_answer("r2", index % 2 == 0, index)
    assert pool.changes(10) == [("r2", True)]
    assert pool.changes(99) == [] and pool.held == {"r2"}  # nothing forgotten yet
    assert pool.changes(100) == [("r2", False)] and pool.held == frozenset()  # record 0's answer forgotten: 9 left
    assert pool.members[1].holds == [10] and pool.members[1].releases == [100]


def test_the_pools_hold_rule_must_be_the_settings():
    settings = load_settings(policy={"reviewer_accuracy_from_gold": True}, review={"gold_share": 0.1})
    with pytest.raises(ValueError, match="review.gold_hold_below"):
        Simulation(settings, reviewer=ReviewerPool(RATES, hold_below=0.9))


def test_rates_and_shares_parse_or_name_the_fix():
    assert parse_rates("0.01,0.02,0.3") == [0.01, 0.02, 0.3] and parse_rates("0.2") == [0.2]
    with pytest.raises(LabelstreamError, match="one a reviewer separated by commas"):
        parse_rates("0.01,lots")
    with pytest.raises(LabelstreamError, match="2 positive weights"):
        parse_shares("1,2,3", 2)


def test_the_weighted_bound_bounds_each_reviewer_on_their_own_gold_and_weighs_them_by_their_answers():
    """policy.gold_bound 'weighted' in the simulation: each pool reviewer's gold answers counted under their own name,
    each answer that entered the evidence counted for the reviewer who gave it (the pool's choice), and the accuracy
    in force the stream-share mean of their bounds (the bad r3 held: their share stops growing)."""
    simulation, report = run_pool(hold_below=0.9, gold_bound="weighted")
    members = {m["name"]: m for m in report["reviewers"]}
    bound = simulation.engine.policy.gold_bound
    assert isinstance(bound, StreamWeightedGoldBound)
    for name in ("r1", "r2", "r3"):
        assert bound.reviewers[name][:2] == (members[name]["gold_answers"], members[name]["gold_right"])
    counted = bound.state()["stream"]
    assert set(counted) <= {"r1", "r2", "r3"} and sum(counted.values()) > 0
    for name, count in counted.items():  # never more than the reviewer answered
        assert count <= sum(1 for who in simulation.answered_by.values() if who == name)
    # r3 was held after 10 gold answers, before their first checkpoint (50): their few answers held to the target
    assert members["r3"]["holds"] and bound.upper_of("r3") == 1.0 and bound.upper_of("r1") > 0.99
    assert simulation.engine.policy.calibrator.reviewer_accuracy == pytest.approx(bound.upper())
    simulation, _ = run_pool(hold_below=0.0, gold_bound="weighted")  # no holds: r3 answers on, bounded low
    bound = simulation.engine.policy.gold_bound
    assert bound.upper_of("r3") < 0.9 < 0.99 < bound.upper_of("r1")
    counted, evidence = bound.state()["stream"], simulation.engine.policy.evidence
    assert evidence.reviewer_bar("r3") is None  # surely under their bar: no bet on r3, shown as 1 in the mean
    shown = {name: 1.0 if evidence.reviewer_bar(name) is None else bound.upper_of(name) for name in counted}
    mean = sum(count * shown[name] for name, count in counted.items()) / sum(counted.values())
    assert simulation.engine.policy.calibrator.reviewer_accuracy == pytest.approx(mean)
    assert mean > bound.upper()
