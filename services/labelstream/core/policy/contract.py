"""The precision contract: auto-label only where precision is proven, audit it, spend humans wisely.

For each record, in order:

1. **Cold start** (the first records, or until the model learned enough
   answers): review, within the budget's reserve, else defer (``no_evidence``).
2. **No proven threshold** for the predicted class (no evidence yet, or
   evidence reset by a drift): review within the budget, else defer
   (``no_evidence``). Every record of the class is as likely to be reviewed:
   these answers are the evidence the calibrator needs, at full weight.
3. **Score at or above the class's threshold**: auto-label — except a
   uniformly random ``audit_share`` of them, reviewed with reason ``audit``,
   and the ``boundary_share`` closest to their threshold
   (:class:`~labelstream.core.boundary.BoundarySampler`), reviewed with reason
   ``uncertain``: where a drift shows first and an answer teaches most.
4. **Below the threshold**: the query strategy decides, through the shared
   budget gate (never below its floor, ``min_inclusion_probability``); not
   asked means deferred (``over_budget``).

**The sampling design travels with the record.** Each decision's
:attr:`~labelstream.core.policy.base.Decision.context` holds the model version,
the calibration generation, the threshold in force, the record's *total*
probability of review over every route (``p_review``: audit, boundary and
strategy together, times the budget gate's admission rate), and the least
review probability of any record of its class above the threshold
(``p_audit``) and below it (``p_floor``). The answer brings it back, and
:meth:`ContractPolicy.learn` turns it into the answer's
:class:`~labelstream.core.calibration.Selection`. Evidence that no review
route selected (a correction to an auto-labeled or deferred record), or that
was routed in another generation, does not enter the calibration (the model
still learns it). Audit answers also feed the
:class:`~labelstream.core.audit.AuditEstimator` of the generation and the
cumulative one.

**What it learned** (evidence, the thresholds in force, audits, the
generation, and who resets them on a drift) is a
:class:`~labelstream.core.policy.contract_evidence.ContractEvidence`, its
:attr:`ContractPolicy.evidence`; this class routes with it. The routing state
(the budget, the random draws, the cold-start counter, the raised audits after
a drift) is local to each labeler.

>>> import random
>>> from labelstream.core.strategies import VariableUncertainty
>>> policy = ContractPolicy(PrecisionCalibrator(), VariableUncertainty(), ReviewBudget(share=0.3),
...                         cold_start_records=0, cold_start_corrections=0, seed=1)
>>> sure = Prediction.from_probabilities({"spam": 0.97, "ham": 0.03})
>>> policy.decide(sure, n_learned=100).reason  # no evidence for "spam" yet: a human looks
'cold_start'
>>> rng = random.Random(0)
>>> for _ in range(300):
...     score = rng.uniform(0.9, 1.0)
...     policy.learn(Evidence(Prediction.from_probabilities({"spam": score, "ham": 1 - score}), "spam",
...                           reason="cold_start", context={"outcome": "review", "generation": 0, "p_review": 1.0}))
>>> policy.calibrator.threshold("spam"), policy.accepts(sure)
(0.9, True)
>>> [policy.decide(sure, n_learned=400).outcome for _ in range(5)]
['label', 'label', 'label', 'label', 'label']
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import numpy as np

from labelstream.core.audit import AuditEstimator
from labelstream.core.boundary import BoundarySampler
from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_recheck import VersionRecheck
from labelstream.core.calibration_reviewers import ReviewerAccuracyBound
from labelstream.core.constructor import slots_constructor
from labelstream.core.policy.base import Decision, Evidence, Features, Policy, Prediction, review_within_budget
from labelstream.core.policy.contract_evidence import (
    EVIDENCE_DETECTORS,
    OVERALL,
    ContractEvidence,
    GoldBound,
    is_evidence_detector,
    selection_of,
)
from labelstream.core.policy.threshold import ColdStart
from labelstream.core.strategies.base import QueryStrategy

__all__ = ["EVIDENCE_DETECTORS", "OVERALL", "ContractPolicy", "is_evidence_detector", "selection_of"]

_make_decision = slots_constructor(Decision)  # Decision(...) with every field, at less than half the cost


class ContractPolicy(Policy):
    """Calibrated per-class auto-accept, random audits, a review budget and a query strategy.

    Parameters
    ----------
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
        On a drift seen in the evidence, forget the calibration (no auto-labels until it rebuilds).
    drift_audit_share, drift_alert_records
        After a drift, audit this share of auto-labels for this many records.
    seed
        Seed of the audit draws.
    calibrator, guarantee, reviewer_bound, recheck, gold_bound
        What it learns from answers and how (:class:`ContractEvidence`: the proofs, the overall or per-class
        guarantee, the reviewer-accuracy bound from overlap items, the per-version recheck, the reviewer-accuracy
        bound from gold items).
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
        guarantee: str = "per_class",
        reviewer_bound: ReviewerAccuracyBound | None = None,
        recheck: VersionRecheck | None = None,
        gold_bound: GoldBound | None = None,
    ) -> None:
        self.evidence = ContractEvidence(calibrator, guarantee, reviewer_bound, recheck, gold_bound)
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
        self.model_version = 0
        self._rng = random.Random(seed)
        self._cold_start = ColdStart(cold_start_records, cold_start_corrections)
        self._boundary = BoundarySampler(boundary_share)
        self._alerted_generation = 0
        self._alert_left = 0

    # -- what it learned (ContractEvidence) ---------------------------------------------------------

    @property
    def calibrator(self) -> PrecisionCalibrator:
        """Evidence and per-class thresholds (its target and confidence are the contract)."""
        return self.evidence.calibrator

    @property
    def recheck(self) -> VersionRecheck | None:
        """The per-version recheck of the proven thresholds (``None``: none)."""
        return self.evidence.recheck

    @property
    def reviewer_bound(self) -> ReviewerAccuracyBound | None:
        """The reviewer-accuracy bound from overlap items (``None``: none)."""
        return self.evidence.reviewer_bound

    @property
    def gold_bound(self) -> GoldBound | None:
        """The reviewer-accuracy bound from gold items (``None``: none)."""
        return self.evidence.gold_bound

    @property
    def guarantee(self) -> str:
        """``"per_class"`` or ``"overall"``."""
        return self.evidence.guarantee

    @property
    def audits(self) -> AuditEstimator:
        """This generation's audit estimate."""
        return self.evidence.audits

    @property
    def audits_total(self) -> AuditEstimator:
        """Every generation's audit estimate."""
        return self.evidence.audits_total

    @property
    def drift_generation(self) -> int:
        """How many drifts seen in the evidence opened a new generation (monotone, shared through snapshots)."""
        return self.evidence.drift_generation

    @property
    def generation(self) -> int:
        """The calibration generation (evidence of another one is not used)."""
        return self.evidence.generation

    def _key(self, label: str) -> str:
        return self.evidence.key(label)

    def threshold(self, key: str) -> float | None:
        """The threshold in force for calibration key ``key`` (:meth:`ContractEvidence.threshold`)."""
        return self.evidence.threshold(key)

    def thresholds(self) -> dict[str, float | None]:
        """Every calibration key with evidence -> its threshold in force."""
        return self.evidence.thresholds()

    def _least(self, cold: bool, audit_share: float, admit_reserved: float, admit: float, least: float) -> float:
        """The least review probability of any record under the design in force (``p_least`` of a context).

        A lower bound of every record's ``p_review`` at this moment, the same for all of them: the recheck
        weighs an answer by ``p_least / p_review`` whatever class a new model version puts it in.
        """
        if cold:
            return admit_reserved
        if not any(t is not None for t in self.thresholds().values()):
            return min(admit, admit_reserved)
        return min(audit_share * admit_reserved, least * admit, admit, admit_reserved)

    # -- routing -------------------------------------------------------------------------------

    def decide(self, prediction: Prediction, n_learned: int, x: Features | None = None) -> Decision:
        decision = self._route(prediction, n_learned, x)
        decision.context["outcome"] = decision.outcome
        return decision

    def _route(self, prediction: Prediction, n_learned: int, x: Features | None) -> Decision:
        self.budget.count_record()
        on_alert = self._alert_left > 0
        self._alert_left = max(self._alert_left - 1, 0)
        # How this record was routed, for the evidence its answer will become (see Decision.context).
        context: dict[str, Any] = {
            "model_version": self.model_version,
            "generation": self.generation,
            "threshold": None,
        }
        cold = self._cold_start.active(n_learned)
        audit_share = self.drift_audit_share if on_alert else self.audit_share
        context["p_least"] = self._least(
            cold,
            audit_share,
            self.budget.admission_rate(reserved=True),
            self.budget.admission_rate(),
            self.strategy.least_probability(),
        )
        if cold or prediction.label is None:
            # Deferred as ``no_evidence``: a cold-start record the budget turned away is as plain a sample of the
            # stream as one deferred for lack of a threshold, so a later proof may relabel it (coverage).
            return self._uniform(context, "cold_start", "no_evidence", reserved=True)
        threshold = context["threshold"] = self.threshold(self._key(prediction.label))
        if threshold is None:
            return self._uniform(context, "drift" if on_alert else "cold_start", "no_evidence", reserved=False)
        context["p_audit"] = audit_share * self.budget.admission_rate(reserved=True)
        context["p_floor"] = self.strategy.least_probability() * self.budget.admission_rate()
        if prediction.confidence >= threshold:
            return self._auto_or_check(prediction, threshold, audit_share, context)
        query = self.strategy.query(prediction, x, self.budget)
        context["p_review"] = query.inclusion_probability
        if query.ask:
            return Decision("review", "uncertain", query.inclusion_probability, query.priority, context)
        return Decision("deferred", "over_budget", 1.0, query.priority, context)

    def decide_many(
        self, predictions: Sequence[Prediction], n_learned: int, xs: Sequence[Features] | None = None
    ) -> list[Decision]:
        """Exactly what :meth:`decide` answers record by record, at a fraction of its cost (the labeler's batches).

        The same calls on the budget, the cold start, the boundary sampler and the strategy, the same
        random draws and equal decisions (same contexts, keys in the same order), in stream order.
        What no decision can change within a batch is worked out for the whole batch first: which
        records fall in the cold start and which on the raised audit share after a drift (both a
        prefix of the batch), each class's threshold (evidence comes from :meth:`learn`, never from
        deciding), which records reach their class's threshold (NumPy), the boundary sampler's
        answers and the audit draws of those (one draw each, in stream order, as :meth:`decide`
        draws them: nothing else draws from this generator). What is left is a *plain auto-label*:
        at its threshold, neither drawn nor near it; it asks the budget nothing, so between two other
        records the plain auto-labels of a class share one :class:`Decision` (a decision is frozen and
        nobody writes to a decided context). Every other record is decided in turn, as :meth:`decide`
        would, with the budget's count at that record and the admission rates and the strategy's floor
        read again after it. tests/core/test_contract_decide_many.py holds the two equal through
        every route.
        """
        n = len(predictions)
        if not n:
            return []
        budget = self.budget
        labels = [p.label for p in predictions]  # the batch's columns (a comprehension's slot loads beat attrgetter)
        cold = self._cold_start.active_prefix(n, n_learned)  # records [0, cold) are in the cold start
        alert = min(self._alert_left, n)  # records [0, alert) audit at the drift's share
        self._alert_left -= alert
        in_force = self.thresholds()  # a lookup re-tests the proofs (~0.1 ms a class): once a batch
        thresholds = {}
        for label in set(labels[cold:]) - {None}:
            key = self._key(label)
            thresholds[label] = in_force[key] if key in in_force else self.threshold(key)
        bars = {label: t for label, t in thresholds.items() if t is not None}
        bar = np.fromiter(map(bars.get, labels, repeat(math.nan)), dtype=float, count=n)
        confidence = np.fromiter([p.confidence for p in predictions], dtype=float, count=n)
        above = confidence >= bar  # NaN (no threshold, a NaN score) is never at it
        above[:cold] = False
        at = np.flatnonzero(above)
        near = np.zeros(len(at), dtype=bool)
        if self._boundary.share > 0:  # else it answers False and changes nothing
            near[:] = self._boundary.ask_many((confidence[at] - bar[at]).tolist())
        drawn = np.zeros(len(at), dtype=bool)
        on_alert = int(np.searchsorted(at, alert))  # the first ones are on alert
        draw = self._rng.random
        for part, share in ((slice(0, on_alert), self.drift_audit_share), (slice(on_alert, None), self.audit_share)):
            count = len(drawn[part])
            if share > 0 and count:
                drawn[part] = np.array([draw() for _ in range(count)]) < share
        checked = drawn | near
        above[at[checked]] = False  # what is left above: the plain auto-labels
        flags = dict(
            zip(at[checked].tolist(), zip(drawn[checked].tolist(), near[checked].tolist(), strict=True), strict=True)
        )
        decisions: list[Decision] = [None] * n  # type: ignore[list-item] - every position is filled below
        routing = _BatchRouting(self, thresholds, any(t is not None for t in in_force.values()), cold, alert)
        records, start = budget.records, 0
        for i in [*np.flatnonzero(~above).tolist(), n]:
            if start < i:
                routing.auto_labels(decisions, labels, start, i)
            if i == n:
                break
            budget.records = records + i + 1  # count_record of every record up to this one
            decisions[i] = routing.decide(i, predictions[i], flags.get(i), xs)
            start = i + 1
        budget.records = records + n
        return decisions

    def _uniform(self, context: dict[str, Any], reason: str, defer_reason: str, reserved: bool) -> Decision:
        """A review within the budget, as likely for every record of the class (the gate's admission rate)."""
        admission = self.budget.admission_rate(reserved)
        context.update(p_review=admission, p_audit=admission, p_floor=admission)
        return review_within_budget(self.budget, reason, defer_reason, reserved=reserved, context=context)

    def _auto_or_check(
        self, prediction: Prediction, threshold: float, audit_share: float, context: dict[str, Any]
    ) -> Decision:
        """An auto-label, unless drawn for an audit or among the least confident (within budget).

        The record's review probability is that of both routes: ``p_audit`` (drawn for an audit and
        admitted), plus, for the least confident share, the boundary route's admission when the audit
        did not take it.
        """
        near = self._boundary.ask(prediction.confidence - threshold)
        p_audit = context["p_audit"]
        total = p_audit + (1.0 - p_audit) * self.budget.admission_rate() if near else p_audit
        context["p_review"] = total
        if audit_share > 0 and self._rng.random() < audit_share and self.budget.try_spend(reserved=True):
            return Decision("review", "audit", total, 1.0, context)
        if near and self.budget.try_spend():
            return Decision("review", "uncertain", total, self.strategy.informativeness(prediction), context)
        return Decision("label", "confident", 1.0, 0.0, context)

    def accepts(self, prediction: Prediction) -> bool:
        if prediction.label is None:
            return False
        threshold = self.threshold(self._key(prediction.label))
        return threshold is not None and prediction.confidence >= threshold

    def accepts_deferred(
        self,
        prediction: Prediction,
        defer_reason: str,
        proposed_label: str | None,
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Only a record deferred for lack of evidence, in this generation, whose label the model still proposes.

        The calibration describes fresh predictions of its generation. Records deferred for lack of
        evidence are a plain sample of them; records deferred over budget were picked for being
        uncertain, and records the model now labels differently are those two model versions disagree
        on — for such selections a threshold calibrated on the whole stream proves nothing (measured:
        relabels of changed minds were right 10-70% of the time). Records deferred in another
        generation (before a drift) belong to a stream the current evidence does not describe
        (measured on SEA with a drift: relabels 90.2% right at a 0.95 target, windows before the drift
        down to 86.8%). They wait for a human. Without ``context`` (callers that do not keep it) the
        generation is not checked.
        """
        if context is not None and context.get("generation", self.generation) != self.generation:
            return False
        return defer_reason == "no_evidence" and prediction.label == proposed_label and self.accepts(prediction)

    # -- learning ------------------------------------------------------------------------------

    def learn(self, evidence: Evidence) -> None:
        """One answer: audit estimates, then calibration evidence if a review route selected it in this generation;
        evidence contradicting a proven threshold is a drift (``calibration_check``)."""
        if self.evidence.learn(evidence):
            self.on_drift("calibration_check")

    def keep_answer(self, x: Features, evidence: Evidence) -> None:
        """An answer's model input, for the recheck of later versions (:meth:`ContractEvidence.keep_answer`)."""
        self.evidence.keep_answer(x, evidence)

    def kept_answers(self) -> dict[str, Any] | None:
        """The answers kept for the recheck, with their generation (:meth:`ContractEvidence.kept_answers`)."""
        return self.evidence.kept_answers()

    def load_kept_answers(self, state: Mapping[str, Any] | None) -> int:
        """Adopt :meth:`kept_answers` if they are of the current generation; how many were adopted."""
        return self.evidence.load_kept_answers(state)

    def held(self) -> tuple[str, ...]:
        """Calibration keys whose threshold is proven and validated but waits for another's (:meth:`ContractEvidence.held`)."""
        return self.evidence.held()

    @contextmanager
    def closing_generation(self) -> Iterator[None]:
        """Within it, a class's threshold does not wait for the others (:meth:`ContractEvidence.threshold`): the
        generation is about to close on a challenger swap, so the full-weight answers the waiting buys for its later
        rechecks would never be used. For one last relabel of the generation's deferred records with the outgoing
        model version: a threshold in force is still proven in the generation and validated for the version, and
        paused classes stay paused (docs/contract.md, The recheck)."""
        self.evidence.closing = True
        try:
            yield
        finally:
            self.evidence.closing = False

    def recheck_version(self, model: Any, held_out: bool = False) -> dict[str, tuple[float, ...]]:
        """A new model version: re-test the proven thresholds against it (:meth:`ContractEvidence.recheck_version`)."""
        return self.evidence.recheck_version(model, held_out)

    def learn_overlap(self, answers: list[str]) -> None:
        """Answers of two (or more) reviewers to one overlap item (:meth:`ContractEvidence.learn_overlap`)."""
        self.evidence.learn_overlap(answers)

    def learn_gold(
        self,
        correct: bool,
        model_right: bool | None = None,
        agreed: bool | None = None,
        reviewer: str | None = None,
    ) -> bool:
        """A reviewer's answer to a gold item, right or not, whether it agreed with the model's proposal if one
        was shown, and who gave it; whether a gold bound learned it (:meth:`ContractEvidence.learn_gold`)."""
        return self.evidence.learn_gold(correct, model_right, agreed, reviewer)

    def hold_reviewer(self, reviewer: str, held: bool) -> None:
        """The review service held a reviewer, or let them answer again (:meth:`ContractEvidence.hold_reviewer`)."""
        self.evidence.hold_reviewer(reviewer, held)

    def observe(self, x: Features, label: str) -> None:
        self.strategy.learn_one(x, label)

    def on_drift(self, detector: str) -> None:
        """A drift seen in the evidence opens a new generation (if configured); any drift raises the audits."""
        if is_evidence_detector(detector):
            self._alerted_generation = self.evidence.new_generation(reset=self.drift_reset_evidence)
        self._alert_left = self.drift_alert_records

    def on_model_version(self, version: int) -> None:
        self.model_version = version

    def census_context(self) -> dict[str, Any]:
        """Every record reviewed (probability 1) in the current generation: its answer is unbiased evidence."""
        return {
            "outcome": "review",
            "model_version": self.model_version,
            "generation": self.generation,
            "threshold": None,
            "p_review": 1.0,
            "p_least": 1.0,
        }

    # -- state -------------------------------------------------------------------------------------

    def learned_state(self) -> dict[str, Any]:
        return {**self.evidence.state(), "strategy": self.strategy.learned_state()}

    def load_learned_state(self, state: dict[str, Any]) -> None:
        """Adopt the learner's evidence and generation (:meth:`ContractEvidence.load_state`); a newer drift
        generation raises this labeler's audits too."""
        if not state:
            return
        loaded = self.evidence.load_state(state)
        self.strategy.load_learned_state(state.get("strategy", {}))
        if loaded > self._alerted_generation:
            self._alerted_generation = loaded
            self._alert_left = self.drift_alert_records


class _BatchRouting:
    """The routing state of one :meth:`ContractPolicy.decide_many` call: what stands for the whole batch, and the
    budget's admission rates and the strategy's floor as they are at the record being decided."""

    def __init__(
        self, policy: ContractPolicy, thresholds: dict[str, float | None], any_threshold: bool, cold: int, alert: int
    ) -> None:
        self.policy = policy
        self.thresholds = thresholds
        self.any_threshold = any_threshold
        self.cold = cold
        self.alert = alert
        self.version, self.generation = policy.model_version, policy.generation
        self._read()

    def _read(self) -> None:
        budget = self.policy.budget
        self.least = self.policy.strategy.least_probability()
        self.admit_reserved, self.admit = budget.admission_rate(reserved=True), budget.admission_rate()

    def _shares(self, on_alert: bool) -> tuple[float, float]:
        """The audit share, and ``p_least`` of a record past the cold start (:meth:`ContractPolicy._least`)."""
        policy = self.policy
        audit_share = policy.drift_audit_share if on_alert else policy.audit_share
        if not self.any_threshold:
            return audit_share, min(self.admit, self.admit_reserved)
        return audit_share, min(
            audit_share * self.admit_reserved, self.least * self.admit, self.admit, self.admit_reserved
        )

    def auto_labels(self, decisions: list[Decision], labels: list[str | None], start: int, end: int) -> None:
        """Records ``start`` to ``end`` are plain auto-labels: one decision a class (and audit share)."""
        alert = self.alert
        for a, b in ((start, min(end, alert)), (max(start, alert), end)) if start < alert else ((start, end),):
            if a >= b:
                continue
            audit_share, p_least = self._shares(a < self.alert)
            p_audit = audit_share * self.admit_reserved
            shared = {
                label: _make_decision(
                    "label",
                    "confident",
                    1.0,
                    0.0,
                    {
                        "model_version": self.version,
                        "generation": self.generation,
                        "threshold": self.thresholds[label],
                        "p_least": p_least,
                        "p_audit": p_audit,
                        "p_floor": self.least * self.admit,
                        "p_review": p_audit,
                        "outcome": "label",
                    },
                )
                for label in set(labels[a:b])
            }
            decisions[a:b] = map(shared.__getitem__, labels[a:b])

    def decide(
        self, i: int, prediction: Prediction, checked: tuple[bool, bool] | None, xs: Sequence[Features] | None
    ) -> Decision:
        """Record ``i`` of the batch, as :meth:`ContractPolicy.decide` routes it; ``checked``: (drawn for an audit,
        near the threshold) of a record at its threshold, ``None`` for one below it (or without one). Its model
        input ``xs[i]`` is read only for a strategy that reads it (:attr:`QueryStrategy.reads_inputs`: the engine's
        inputs may be made when read)."""
        policy, budget = self.policy, self.policy.budget
        on_alert = i < self.alert
        context: dict[str, Any] = {"model_version": self.version, "generation": self.generation, "threshold": None}
        if i < self.cold:
            context["p_least"] = self.admit_reserved
            decision = policy._uniform(context, "cold_start", "no_evidence", reserved=True)
        else:
            audit_share, context["p_least"] = self._shares(on_alert)
            label = prediction.label
            threshold = None if label is None else self.thresholds[label]
            if label is None:
                decision = policy._uniform(context, "cold_start", "no_evidence", reserved=True)
            elif checked is not None:
                drawn, near = checked
                p_audit = audit_share * self.admit_reserved
                context.update(
                    threshold=threshold,
                    p_audit=p_audit,
                    p_floor=self.least * self.admit,
                    p_review=p_audit + (1.0 - p_audit) * self.admit if near else p_audit,
                )
                if drawn and budget.try_spend(reserved=True):
                    decision = Decision("review", "audit", context["p_review"], 1.0, context)
                elif near and budget.try_spend():
                    priority = policy.strategy.informativeness(prediction)
                    decision = Decision("review", "uncertain", context["p_review"], priority, context)
                else:
                    decision = Decision("label", "confident", 1.0, 0.0, context)
            elif threshold is None:
                context["threshold"] = None
                decision = policy._uniform(
                    context, "drift" if on_alert else "cold_start", "no_evidence", reserved=False
                )
            else:
                context.update(
                    threshold=threshold, p_audit=audit_share * self.admit_reserved, p_floor=self.least * self.admit
                )
                strategy = policy.strategy
                query = strategy.query(prediction, xs[i] if xs is not None and strategy.reads_inputs else None, budget)
                context["p_review"] = query.inclusion_probability
                decision = (
                    Decision("review", "uncertain", query.inclusion_probability, query.priority, context)
                    if query.ask
                    else Decision("deferred", "over_budget", 1.0, query.priority, context)
                )
        context["outcome"] = decision.outcome
        self._read()
        return decision
