"""The contract policy: routing, audits, drift reaction, learned state in snapshots, relabel."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from labelstream.core.audit import AuditEstimator
from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.engine import LabelingEngine
from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.schemas import Record
from labelstream.core.snapshot import ModelState, dump_snapshot, load_snapshot
from labelstream.core.strategies import FixedUncertainty, Split


def policy(**kw) -> ContractPolicy:
    defaults = {"cold_start_records": 0, "cold_start_corrections": 0, "seed": 1, "boundary_share": 0.0}
    return ContractPolicy(PrecisionCalibrator(), Split(seed=1), ReviewBudget(), **{**defaults, **kw})


def two_class(score: float, label: str = "spam") -> Prediction:
    other = "ham" if label == "spam" else "spam"
    return Prediction.from_probabilities({label: score, other: 1 - score})


def reviewed(contract: ContractPolicy, p_review: float = 1.0, **context) -> dict:
    """The routing context of a record reviewed now under a uniform design."""
    return {"outcome": "review", "generation": contract.generation, "p_review": p_review, "threshold": None, **context}


def prove(contract: ContractPolicy, label: str = "spam", n: int = 400, low: float = 0.99) -> None:
    """Flawless answers at scores from ``low`` to 1: the class gets a threshold near ``low``."""
    rng = random.Random(n)
    for _ in range(n):
        contract.learn(Evidence(two_class(rng.uniform(low, 1.0), label), label, "cold_start", context=reviewed(contract)))


def test_a_class_without_evidence_is_never_auto_labeled():
    contract = policy()
    prove(contract, "spam")
    outcomes = Counter(contract.decide(two_class(0.999, "ham"), n_learned=500).outcome for _ in range(200))
    assert outcomes["label"] == 0
    assert contract.decide(two_class(0.999, "spam"), n_learned=500).outcome in ("label", "review")


def test_audits_are_a_uniform_share_of_would_be_auto_labels():
    contract = policy(audit_share=0.1)
    prove(contract)
    reasons = Counter(contract.decide(two_class(0.995), n_learned=500).reason for _ in range(5000))
    assert 0.08 <= reasons["audit"] / 5000 <= 0.12
    assert reasons["confident"] + reasons["audit"] == 5000


def test_audit_estimate_is_unbiased_with_changing_audit_shares():
    rng = random.Random(0)
    estimates = []
    for _ in range(200):
        audits = AuditEstimator()
        for share in (0.02, 0.2):  # 10x more audits after a drift alert
            for _ in range(3000):
                if rng.random() < share:
                    audits.learn_one("a", rng.random() < 0.9, share)
        estimates.append(audits.estimate().estimate)
    assert abs(sum(estimates) / len(estimates) - 0.9) < 0.005


def test_a_drift_in_the_evidence_resets_and_raises_the_audit_share_for_a_while():
    contract = policy(audit_share=0.0, drift_audit_share=0.5, drift_alert_records=100)
    prove(contract)
    contract.on_drift("calibration_check")
    assert contract.calibrator.threshold("spam") is None and contract.generation == 1
    assert contract.decide(two_class(0.99), n_learned=500).reason in ("drift", "cold_start")
    prove(contract)
    audited = Counter(contract.decide(two_class(0.995), n_learned=900).reason for _ in range(99))
    assert audited["audit"] > 30
    after = Counter(contract.decide(two_class(0.995), n_learned=900).reason for _ in range(200))
    assert after["audit"] == 0


def test_other_drifts_only_raise_the_audits():
    """Error-rate and prediction drifts (the labeler's) leave the learned state alone (D3)."""
    contract = policy(audit_share=0.0, drift_audit_share=0.5, drift_alert_records=100)
    prove(contract)
    for detector in ("error:spam", "confidence", "class_share:spam"):
        contract.on_drift(detector)
    assert contract.generation == 0 and contract.drift_generation == 0
    assert contract.calibrator.threshold("spam") is not None
    audited = Counter(contract.decide(two_class(0.995), n_learned=900).reason for _ in range(99))
    assert audited["audit"] > 30


def test_drift_reactions_are_configurable():
    contract = policy(drift_reset_evidence=False)
    prove(contract)
    contract.on_drift("calibration_check")
    assert contract.calibrator.threshold("spam") is not None


def test_learned_state_travels_in_a_snapshot_and_alerts_the_labeler():
    learner = policy(drift_alert_records=50, drift_audit_share=1.0, audit_share=0.0)
    prove(learner)
    learner.on_drift("calibration_check")
    prove(learner)
    state = ModelState(OnlineModel(), Featurizer(), version=2, policy_state=learner.learned_state())
    loaded = load_snapshot(dump_snapshot(state, b"key"), b"key")
    labeler = policy(drift_alert_records=50, drift_audit_share=1.0, audit_share=0.0)
    labeler.load_learned_state(loaded.policy_state)
    assert labeler.calibrator.thresholds() == learner.calibrator.thresholds()
    assert labeler.generation == learner.generation == 1
    assert labeler.decide(two_class(0.995), n_learned=900).reason == "audit"  # the labeler's own alert
    labeler.load_learned_state(loaded.policy_state)  # the same generation again: no new alert
    for _ in range(60):
        labeler.decide(two_class(0.995), n_learned=900)
    assert labeler.decide(two_class(0.995), n_learned=900).reason == "confident"


def test_a_labelers_own_drift_does_not_hide_the_learners_next_one():
    """D3: a labeler that saw a drift of its own still alerts on the learner's next generation."""
    learner = policy(drift_alert_records=50, drift_audit_share=1.0, audit_share=0.0)
    labeler = policy(drift_alert_records=50, drift_audit_share=1.0, audit_share=0.0)
    prove(learner)
    labeler.load_learned_state(learner.learned_state())
    labeler.on_drift("confidence")  # its own, from the predictions
    for _ in range(60):
        labeler.decide(two_class(0.995), n_learned=900)
    learner.on_drift("calibration_check")
    prove(learner)
    labeler.load_learned_state(learner.learned_state())
    reasons = Counter(labeler.decide(two_class(0.995), n_learned=900).reason for _ in range(40))
    assert reasons == {"audit": 40}


def test_a_rolled_back_snapshot_never_takes_the_generation_back():
    learner = policy()
    prove(learner)
    old = learner.learned_state()
    learner.on_drift("calibration_check")
    learner.on_drift("calibration_check")
    prove(learner)
    learner.load_learned_state(old)  # models rollback: the old version's state
    assert learner.generation == 3 and learner.calibrator.threshold("spam") is None


def test_a_contradicted_calibration_resets_itself():
    contract = policy()
    prove(contract, n=600)
    for _ in range(100):
        contract.learn(Evidence(two_class(0.99), "ham", "audit", context=reviewed(contract)))  # the concept flipped
    assert contract.drift_generation >= 1


def test_evidence_from_another_generation_or_route_is_left_out():
    """D4: answers routed before a reset, and corrections nobody was asked for, do not refill the evidence."""
    contract = policy()
    stale = reviewed(contract)
    contract.on_drift("calibration_check")
    unasked = {**reviewed(contract), "outcome": "label"}  # a correction to an auto-label
    for context in (stale, unasked, {}):
        for _ in range(400):
            contract.learn(Evidence(two_class(0.995), "spam", "audit", context=context))
    assert len(contract.calibrator) == 0 and contract.calibrator.threshold("spam") is None
    prove(contract)
    assert contract.calibrator.threshold("spam") is not None


def test_every_review_records_its_total_probability_over_all_routes():
    """D2: an audit and a boundary review of the same record carry the same, total, probability."""
    contract = policy(audit_share=0.1, boundary_share=0.5)
    prove(contract, n=600, low=0.9)
    threshold = contract.calibrator.threshold("spam")
    decisions = [contract.decide(two_class(threshold + 0.001), n_learned=900) for _ in range(2000)]
    near = [d for d in decisions if d.outcome == "review"]
    assert {d.reason for d in near} == {"audit", "uncertain"}
    for d in near:  # with an open budget, the boundary takes all it picks (1): audited or not, a record it picks has 1
        assert d.inclusion_probability == d.context["p_review"]
        assert d.context["p_review"] == pytest.approx(1.0 if d.reason == "uncertain" else d.context["p_review"])
        assert d.context["p_review"] in (pytest.approx(0.1), pytest.approx(1.0))
    assert all(d.context["p_review"] == pytest.approx(1.0) for d in near if d.reason == "uncertain")
    audits_only = policy(audit_share=0.1, boundary_share=0.0)
    prove(audits_only, n=600, low=0.9)
    far = [audits_only.decide(two_class(0.9999), n_learned=900) for _ in range(2000)]
    audited = [d for d in far if d.outcome == "review"]
    assert {d.reason for d in audited} == {"audit"}
    assert all(d.context["p_review"] == pytest.approx(0.1) == d.context["p_audit"] for d in audited)


def test_every_record_below_its_threshold_may_be_reviewed():
    """D2: even a strategy that never asks about confident records gets the floor (positivity)."""
    contract = ContractPolicy(PrecisionCalibrator(), FixedUncertainty(0.6, min_probability=0.05, seed=1),
                              ReviewBudget(), cold_start_records=0, cold_start_corrections=0, seed=1)
    prove(contract, n=600, low=0.99)
    decisions = [contract.decide(two_class(0.95), n_learned=900) for _ in range(4000)]
    assert {d.context["p_review"] for d in decisions} == {0.05}
    assert 0.035 <= sum(d.outcome == "review" for d in decisions) / 4000 <= 0.065
    assert all(d.context["p_floor"] == 0.05 for d in decisions)


def test_relabel_accepts_only_unselected_records_whose_label_stands():
    engine = LabelingEngine(OnlineModel(seed=1), policy())
    for _ in range(100):
        engine.learn({"x": 1.0}, "spam")
        engine.learn({"x": -1.0}, "ham")
    prove(engine.policy, "spam", n=600, low=0.5)
    records = [Record(id=name, features={"x": 1.0}) for name in "abc"] + [Record(id="d", features={"x": -1.0})]
    relabel = engine.relabel(records, ["no_evidence", "over_budget", "no_evidence", "no_evidence"],
                             ["spam", "spam", "ham", "ham"])
    assert [record.id for record, _ in relabel.labeled] == ["a"]  # b: picked as uncertain; c: the model changed its mind
    assert sorted(record.id for record in relabel.waiting) == ["b", "c", "d"]  # d: "ham" has no threshold


def budgeted_engine(share: float, cold_start_records: int = 0) -> tuple[LabelingEngine, ContractPolicy]:
    """An engine whose model tells x = 1 (spam) from x = -1 (ham), under a contract with a review budget."""
    contract = ContractPolicy(PrecisionCalibrator(), Split(seed=1), ReviewBudget(share=share, reserve=0.0),
                              cold_start_records=cold_start_records, cold_start_corrections=0, seed=1)
    engine = LabelingEngine(OnlineModel(seed=1), contract)
    for _ in range(100):
        engine.learn({"x": 1.0}, "spam")
        engine.learn({"x": -1.0}, "ham")
    return engine, contract


def test_records_deferred_before_a_reset_are_never_relabeled_under_the_new_evidence():
    """A proof describes its generation's stream: records deferred before a drift wait for a human."""
    engine, contract = budgeted_engine(share=0.01)
    old = [contract.decide(two_class(0.99), n_learned=200) for _ in range(3)][-1]  # the budget turns it away
    assert (old.outcome, old.reason, old.context["generation"]) == ("deferred", "no_evidence", 0)
    contract.on_drift("calibration_check")
    new = [contract.decide(two_class(0.99), n_learned=200) for _ in range(3)][-1]
    assert (new.outcome, new.reason, new.context["generation"]) == ("deferred", "no_evidence", 1)
    prove(contract, "spam", n=600, low=0.5)
    records = [Record(id=name, features={"x": 1.0}) for name in ("before", "after")]
    relabel = engine.relabel(records, [old.reason, new.reason], ["spam", "spam"], [old.context, new.context])
    assert [r.id for r, _ in relabel.labeled] == ["after"] and [r.id for r in relabel.waiting] == ["before"]


def test_cold_start_records_over_the_budget_wait_for_a_proof():
    """Turned away at random in the cold start, they are relabeled like records deferred for lack of evidence."""
    engine, contract = budgeted_engine(share=0.2, cold_start_records=50)
    decisions = [contract.decide(two_class(0.99), n_learned=0) for _ in range(50)]
    deferred = [d for d in decisions if d.outcome == "deferred"]
    assert {d.reason for d in deferred} == {"no_evidence"} and len(deferred) >= 35
    record = Record(id="a", features={"x": 1.0})
    assert engine.relabel([record], [deferred[0].reason], ["spam"]).labeled == []  # nothing proven yet
    prove(contract, "spam", n=600, low=0.5)
    assert [r.id for r, _ in engine.relabel([record], [deferred[0].reason], ["spam"]).labeled] == ["a"]


def test_boundary_reviews_take_the_least_confident_share():
    contract = policy(boundary_share=0.1)
    prove(contract, n=600, low=0.9)
    assert contract.calibrator.threshold("spam") <= 0.91
    rng = random.Random(1)
    asked = []
    for _ in range(4000):
        score = rng.uniform(0.9, 1.0)
        decision = contract.decide(two_class(score), n_learned=900)
        if decision.reason == "uncertain":
            asked.append(score)
    assert 0.07 <= len(asked) / 4000 <= 0.13
    assert sum(asked) / len(asked) < 0.93


def test_each_decision_carries_its_routing_context():
    contract = policy(audit_share=0.0)
    engine = LabelingEngine(OnlineModel(seed=1), contract, Featurizer())
    engine.model_version = 5  # the policy is told which model scores the records
    unsure = contract.decide(two_class(0.97), n_learned=100)
    assert unsure.outcome == "review"
    assert unsure.context == {"model_version": 5, "generation": 0, "threshold": None, "outcome": "review",
                              "p_review": 1.0, "p_audit": 1.0, "p_floor": 1.0, "p_least": 1.0}
    prove(contract, "spam")
    threshold = contract.calibrator.threshold("spam")
    sure = contract.decide(two_class(0.999), n_learned=100)
    assert sure.outcome == "label" and threshold is not None
    assert sure.context == {"model_version": 5, "generation": 0, "threshold": threshold, "outcome": "label",
                            "p_review": 0.0, "p_audit": 0.0, "p_floor": contract.strategy.least_probability(),
                            "p_least": 0.0}  # no audits: some record is never reviewed
    contract.on_drift("calibration_check")
    assert contract.decide(two_class(0.999), n_learned=100).context["generation"] == 1
