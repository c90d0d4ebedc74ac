"""The contract policy: routing, audits, drift reaction, learned state in snapshots, relabel."""

from __future__ import annotations

import random
from collections import Counter

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
from labelstream.core.strategies import Split


def policy(**kw) -> ContractPolicy:
    defaults = {"cold_start_records": 0, "cold_start_corrections": 0, "seed": 1, "boundary_share": 0.0}
    return ContractPolicy(PrecisionCalibrator(), Split(seed=1), ReviewBudget(), **{**defaults, **kw})


def two_class(score: float, label: str = "spam") -> Prediction:
    other = "ham" if label == "spam" else "spam"
    return Prediction.from_probabilities({label: score, other: 1 - score})


def prove(contract: ContractPolicy, label: str = "spam", n: int = 400, low: float = 0.99) -> None:
    """Flawless answers at scores from ``low`` to 1: the class gets a threshold near ``low``."""
    rng = random.Random(n)
    for _ in range(n):
        contract.learn(Evidence(two_class(rng.uniform(low, 1.0), label), label))


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


def test_drift_resets_evidence_and_raises_the_audit_share_for_a_while():
    contract = policy(audit_share=0.0, drift_audit_share=0.5, drift_alert_records=100)
    prove(contract)
    contract.on_drift("error:spam")
    assert contract.calibrator.threshold("spam") is None
    assert contract.decide(two_class(0.99), n_learned=500).reason in ("drift", "cold_start")
    prove(contract)
    audited = Counter(contract.decide(two_class(0.995), n_learned=900).reason for _ in range(99))
    assert audited["audit"] > 30
    after = Counter(contract.decide(two_class(0.995), n_learned=900).reason for _ in range(200))
    assert after["audit"] == 0


def test_drift_reactions_are_configurable():
    contract = policy(drift_reset_evidence=False)
    prove(contract)
    contract.on_drift("error:spam")
    assert contract.calibrator.threshold("spam") is not None


def test_learned_state_travels_in_a_snapshot_and_alerts_the_labeler():
    learner = policy(drift_alert_records=50, drift_audit_share=1.0, audit_share=0.0)
    prove(learner)
    learner.on_drift("error:spam")
    prove(learner)
    state = ModelState(OnlineModel(), Featurizer(), version=2, policy_state=learner.learned_state())
    loaded = load_snapshot(dump_snapshot(state, b"key"), b"key")
    labeler = policy(drift_alert_records=50, drift_audit_share=1.0, audit_share=0.0)
    labeler.load_learned_state(loaded.policy_state)
    assert labeler.calibrator.thresholds() == learner.calibrator.thresholds()
    assert labeler.decide(two_class(0.995), n_learned=900).reason == "audit"  # the labeler's own alert
    labeler.load_learned_state(loaded.policy_state)  # the same generation again: no new alert
    for _ in range(60):
        labeler.decide(two_class(0.995), n_learned=900)
    assert labeler.decide(two_class(0.995), n_learned=900).reason == "confident"


def test_a_contradicted_calibration_resets_itself():
    contract = policy()
    prove(contract, n=600)
    for _ in range(100):
        contract.learn(Evidence(two_class(0.99), "ham"))  # the concept flipped
    assert contract.drift_generation >= 1


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
    assert unsure.context == {"model_version": 5, "generation": 0, "threshold": None, "p_review": 1.0}
    prove(contract, "spam")
    threshold = contract.calibrator.threshold("spam")
    sure = contract.decide(two_class(0.999), n_learned=100)
    assert sure.outcome == "label" and threshold is not None
    assert sure.context == {"model_version": 5, "generation": 0, "threshold": threshold, "p_review": None}
    contract.on_drift("error")
    assert contract.decide(two_class(0.999), n_learned=100).context["generation"] == 1
