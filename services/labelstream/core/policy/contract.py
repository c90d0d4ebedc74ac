"""The precision contract: auto-label only where precision is proven, audit it, spend humans wisely.

For each record, in order:

1. **Cold start** (the first records, or until the model learned enough
   answers): review, within the budget's reserve.
2. **No proven threshold** for the predicted class (no evidence yet, or
   evidence reset by a drift): review with inclusion probability 1 within
   the budget, else defer (``no_evidence``). These answers are the unbiased
   evidence the calibrator needs.
3. **Score at or above the class's threshold**: auto-label — except a
   uniformly random ``audit_share`` of them, reviewed with reason ``audit``,
   and the ``boundary_share`` closest to their threshold
   (:class:`~labelstream.core.boundary.BoundarySampler`), reviewed with reason
   ``uncertain``: where a drift shows first and an answer teaches most.
4. **Below the threshold**: the query strategy decides, through the shared
   budget gate; not asked means deferred (``over_budget``).

Every review carries its inclusion probability, and every answer
(:meth:`ContractPolicy.learn`) becomes weighted evidence for the
:class:`~labelstream.core.calibration.PrecisionCalibrator`; audit answers
also feed the :class:`~labelstream.core.audit.AuditEstimator`.

State: the calibration evidence, audit estimates, drift generation and the
strategy's models are *learned* (built in the learner, shipped in model
snapshots); the budget, random draws, cold-start counter and the raised
audit share after a drift are *routing* state, local to each labeler.

>>> import random
>>> from labelstream.core.strategies import VariableUncertainty
>>> policy = ContractPolicy(PrecisionCalibrator(min_evidence=30), VariableUncertainty(), ReviewBudget(share=0.3),
...                         cold_start_records=0, cold_start_corrections=0, seed=1)
>>> sure = Prediction.from_probabilities({"spam": 0.97, "ham": 0.03})
>>> policy.decide(sure, n_learned=100).reason  # no evidence for "spam" yet: a human looks
'cold_start'
>>> rng = random.Random(0)
>>> for _ in range(300):
...     score = rng.uniform(0.9, 1.0)
...     policy.learn(Evidence(Prediction.from_probabilities({"spam": score, "ham": 1 - score}), "spam"))
>>> policy.calibrator.threshold("spam"), policy.accepts(sure)
(0.9, True)
>>> [policy.decide(sure, n_learned=400).outcome for _ in range(5)]
['label', 'label', 'label', 'label', 'label']
"""

from __future__ import annotations

import random
from typing import Any

from labelstream.core.audit import AuditEstimator
from labelstream.core.boundary import BoundarySampler
from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.policy.base import Decision, Evidence, Features, Policy, Prediction, review_within_budget
from labelstream.core.policy.threshold import ColdStart
from labelstream.core.strategies.base import QueryStrategy


class ContractPolicy(Policy):
    """Calibrated per-class auto-accept, random audits, a review budget and a query strategy.

    Parameters
    ----------
    calibrator
        Evidence and per-class thresholds (its target and confidence are the contract).
    strategy
        Which records below the threshold are worth a human answer.
    budget
        The review budget shared by cold start, audits and the strategy.
    audit_share
        Share of would-be auto-labels reviewed at random.
    boundary_share
        Share of would-be auto-labels, the least confident, reviewed for the model and drift detection.
    cold_start_records, cold_start_corrections
        Review the first records, or until the model learned this many answers.
    drift_reset_evidence
        On a drift, forget the calibration evidence (no auto-labels until it rebuilds).
    drift_audit_share, drift_alert_records
        After a drift, audit this share of auto-labels for this many records.
    seed
        Seed of the audit draws.
    """

    name = "contract"

    def __init__(
        self,
        calibrator: PrecisionCalibrator,
        strategy: QueryStrategy,
        budget: ReviewBudget | None = None,
        audit_share: float = 0.02,
        boundary_share: float = 0.0,
        cold_start_records: int = 100,
        cold_start_corrections: int = 50,
        drift_reset_evidence: bool = True,
        drift_audit_share: float = 0.1,
        drift_alert_records: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.calibrator = calibrator
        self.strategy = strategy
        self.budget = budget or ReviewBudget()
        self.audit_share = audit_share
        self.boundary_share = boundary_share
        self.cold_start_records = cold_start_records
        self.cold_start_corrections = cold_start_corrections
        self.drift_reset_evidence = drift_reset_evidence
        self.drift_audit_share = drift_audit_share
        self.drift_alert_records = drift_alert_records
        self.seed = seed
        self.audits = AuditEstimator(calibrator.confidence_level)
        self.drift_generation = 0
        self.model_version = 0
        self._rng = random.Random(seed)
        self._cold_start = ColdStart(cold_start_records, cold_start_corrections)
        self._boundary = BoundarySampler(boundary_share)
        self._alerted_generation = 0
        self._alert_left = 0

    # -- routing -------------------------------------------------------------------------------

    def decide(self, prediction: Prediction, n_learned: int, x: Features | None = None) -> Decision:
        decision = self._route(prediction, n_learned, x)
        if decision.outcome == "review":
            decision.context["p_review"] = decision.inclusion_probability
        return decision

    def _route(self, prediction: Prediction, n_learned: int, x: Features | None) -> Decision:
        self.budget.count_record()
        on_alert = self._alert_left > 0
        self._alert_left = max(self._alert_left - 1, 0)
        # How this record was routed, for the evidence its answer will become (see Decision.context).
        context = {"model_version": self.model_version, "generation": self.drift_generation, "threshold": None,
                   "p_review": None}
        if self._cold_start.active(n_learned) or prediction.label is None:
            return review_within_budget(self.budget, "cold_start", reserved=True, context=context)
        threshold = context["threshold"] = self.calibrator.threshold(prediction.label)
        if threshold is None:
            return review_within_budget(self.budget, "drift" if on_alert else "cold_start", "no_evidence", context=context)
        if prediction.confidence >= threshold:
            audit_share = self.drift_audit_share if on_alert else self.audit_share
            return self._auto_or_check(prediction, threshold, audit_share, context)
        query = self.strategy.query(prediction, x, self.budget)
        if query.ask:
            return Decision("review", "uncertain", query.inclusion_probability, query.priority, context)
        return Decision("deferred", "over_budget", 1.0, query.priority, context)

    def _auto_or_check(
        self, prediction: Prediction, threshold: float, audit_share: float, context: dict[str, Any]
    ) -> Decision:
        """An auto-label, unless drawn for an audit or among the least confident (within budget)."""
        if audit_share > 0 and self._rng.random() < audit_share:
            admission = self.budget.admission_rate(reserved=True)
            if self.budget.try_spend(reserved=True):
                return Decision("review", "audit", audit_share * admission, 1.0, context)
        if self._boundary.ask(prediction.confidence - threshold):
            admission = self.budget.admission_rate()
            if self.budget.try_spend():
                return Decision("review", "uncertain", admission, self.strategy.informativeness(prediction), context)
        return Decision("label", "confident", 1.0, 0.0, context)

    def accepts(self, prediction: Prediction) -> bool:
        if prediction.label is None:
            return False
        threshold = self.calibrator.threshold(prediction.label)
        return threshold is not None and prediction.confidence >= threshold

    def accepts_deferred(self, prediction: Prediction, defer_reason: str, proposed_label: str | None) -> bool:
        """Only a record deferred for lack of evidence whose label the model still proposes.

        The calibration describes fresh predictions. Records deferred for lack of evidence are a plain
        sample of them; records deferred over budget were picked for being uncertain, and records the
        model now labels differently are those two model versions disagree on — for such selections a
        threshold calibrated on the whole stream proves nothing (measured: relabels of changed minds were
        right 10-70% of the time). They wait for a human.
        """
        return defer_reason == "no_evidence" and prediction.label == proposed_label and self.accepts(prediction)

    # -- learning ------------------------------------------------------------------------------

    def learn(self, evidence: Evidence) -> None:
        prediction = evidence.prediction
        if prediction.label is None:
            return
        if evidence.reason == "audit":
            self.audits.learn_one(prediction.label, evidence.correct, evidence.inclusion_probability)
        contradicted = self.calibrator.learn_one(
            prediction.label, prediction.confidence, evidence.correct, evidence.inclusion_probability, evidence.timestamp
        )
        if contradicted:
            self.on_drift("calibration_check")

    def observe(self, x: Features, label: str) -> None:
        self.strategy.learn_one(x, label)

    def on_drift(self, detector: str) -> None:
        """Forget the evidence (if configured) and audit more for a while."""
        self.drift_generation += 1
        if self.drift_reset_evidence:
            self.calibrator.reset()
        self._raise_alert()

    def on_model_version(self, version: int) -> None:
        self.model_version = version

    def _raise_alert(self) -> None:
        self._alerted_generation = self.drift_generation
        self._alert_left = self.drift_alert_records

    # -- state -------------------------------------------------------------------------------------

    def learned_state(self) -> dict[str, Any]:
        return {
            "calibration": self.calibrator.state(),
            "audits": self.audits.state(),
            "drift_generation": self.drift_generation,
            "strategy": self.strategy.learned_state(),
        }

    def load_learned_state(self, state: dict[str, Any]) -> None:
        """Adopt the learner's evidence; a newer drift generation raises this labeler's audits too."""
        if not state:
            return
        self.calibrator.load_state(state.get("calibration", {}))
        self.audits.load_state(state.get("audits", {}))
        self.strategy.load_learned_state(state.get("strategy", {}))
        self.drift_generation = int(state.get("drift_generation", 0))
        if self.drift_generation > self._alerted_generation:
            self._raise_alert()
