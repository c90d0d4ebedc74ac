"""What the precision contract has learned from answers: evidence, the thresholds in force, audits, the generation.

:class:`ContractEvidence` is the learned half of
:class:`~labelstream.core.policy.contract.ContractPolicy` (which routes records
with it): the calibrator's proofs, the recheck's validations of the model version
in force, the reviewer-accuracy bound, the audit estimates, and the calibration
generation they all belong to. It decides which threshold is in force for a class,
turns answers into evidence, and ships in model snapshots.

**Who resets what.** The calibration evidence, its generation and the audit
estimates are *learned* state: built in the learner, shipped in model
snapshots; only the learner's evidence of a drift (the calibration check, a
challenger swap, a rollback: :data:`EVIDENCE_DETECTORS`) resets them and
opens a new generation (:meth:`ContractEvidence.new_generation`). Any other
drift only raises the audit share for a while: *routing* state, local to each
labeler (the policy's).

>>> from labelstream.core.calibration import PrecisionCalibrator
>>> from labelstream.core.policy.base import Evidence, Prediction
>>> evidence = ContractEvidence(PrecisionCalibrator())
>>> for i in range(300):  # flawless answers at 0.9 to 1.0, reviewed at probability 1
...     score = 0.9 + i / 3000
...     contradicted = evidence.learn(Evidence(Prediction.from_probabilities({"spam": score, "ham": 1 - score}), "spam",
...         reason="cold_start", context={"outcome": "review", "generation": 0, "p_review": 1.0}))
>>> evidence.threshold("spam"), evidence.threshold("ham")
(0.9, None)
>>> evidence.new_generation(reset=True), evidence.threshold("spam")  # a drift seen in the answers
(1, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelstream.core.audit import AuditEstimator
from labelstream.core.calibration import PrecisionCalibrator, Selection
from labelstream.core.calibration_holds import HeldGoldAccuracyBound
from labelstream.core.calibration_recheck import ANY_CLASS, VersionRecheck
from labelstream.core.calibration_reviewers import ConditionalGoldBound, GoldAccuracyBound, ReviewerAccuracyBound
from labelstream.core.calibration_weighted import StreamWeightedGoldBound, answer_bar
from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound
from labelstream.core.policy.base import Evidence, Features

GoldBound = (
    GoldAccuracyBound
    | ConditionalGoldBound
    | HeldGoldAccuracyBound
    | StreamWeightedGoldBound
    | StreamWeightedConditionalGoldBound
)
"""The kinds of reviewer-accuracy bound from gold items."""

OVERALL = ANY_CLASS
"""The calibration key of every class under the overall guarantee."""

EVIDENCE_DETECTORS: tuple[str, ...] = ("calibration_check", "challenger", "rollback", "version_change")
"""Drifts that reset the calibration (all the learner's). The others only raise audits: the error
detectors too, since the error rate of *reviewed* records moves whenever routing does (a threshold
proven, a budget filling up) — the calibration check judges each answer at its own score instead."""


def is_evidence_detector(detector: str) -> bool:
    """Whether a drift of ``detector`` resets the calibration (``name:label`` is of family ``name``)."""
    return any(detector == name or detector.startswith(name + ":") for name in EVIDENCE_DETECTORS)


def selection_of(context: Mapping[str, Any]) -> Selection | None:
    """The sampling design of a reviewed record, from its routing context (``None``: not selected by review)."""
    probability = context.get("p_review")
    if context.get("outcome") != "review" or not probability or probability <= 0:
        return None
    return Selection(float(probability), context.get("threshold"), context.get("p_audit"), context.get("p_floor"))


class ContractEvidence:
    """The contract's learned state: proofs, validations, audits and their generation (module docstring).

    Parameters
    ----------
    calibrator
        Evidence and per-class thresholds (its target and confidence are the contract).
    guarantee
        ``"per_class"``: each predicted class's auto-labels meet the target; ``"overall"``: all
        auto-labels together do (one threshold, evidence pooled over the classes — more coverage
        sooner, a weaker promise: a rare class may be worse).
    reviewer_bound
        Measures how accurate reviewers are at most from overlap items (:meth:`learn_overlap`) and
        lowers the calibrator's agreement bar to match (never above the calibrator's own
        ``reviewer_accuracy``). Its ``alpha`` adds to the calibrator's error: give each a share.
    gold_bound
        The same from answers to gold items (:meth:`learn_gold`); the bar in force follows the least of the
        user's cap and the bounds present. Its ``alpha`` adds too (both bounds on: both alphas). A
        :class:`ConditionalGoldBound` instead sets the bar itself, alone (it may exceed the target: 1 until it has
        measured): it needs no overlap bound and a cap of 1, whose assumptions it does not make. A
        :class:`HeldGoldAccuracyBound` counts answers per reviewer and drops a held reviewer's
        (:meth:`hold_reviewer`): the bar in force may then go *up* (docs/contract.md, section 5, "Holds"). A
        :class:`StreamWeightedGoldBound` bounds each reviewer from their own gold answers and each answer is bet
        against its own reviewer's bar (the least of the user's cap, the overlap bound and that reviewer's bound;
        ``Evidence.reviewer``); the bar in force shown is that of the stream-share-weighted accuracy. A
        :class:`StreamWeightedConditionalGoldBound` is the conditional bound per reviewer, alone as the pooled one
        is: each answer bet against its reviewer's conditional bar; the bar shown is their stream-share mean.
    recheck
        Re-tests the proven thresholds against each new model version (:meth:`recheck_version`) on the
        generation's answered records (:meth:`keep_answer`); a class's threshold is in force only where the
        current version validated it (``None``: the calibrator's thresholds as proven).
    """

    def __init__(
        self,
        calibrator: PrecisionCalibrator,
        guarantee: str = "per_class",
        reviewer_bound: ReviewerAccuracyBound | None = None,
        recheck: VersionRecheck | None = None,
        gold_bound: GoldBound | None = None,
    ) -> None:
        if guarantee not in ("per_class", "overall"):
            raise ValueError(f"guarantee must be per_class or overall, got {guarantee!r}")
        if isinstance(gold_bound, ConditionalGoldBound | StreamWeightedConditionalGoldBound) and (
            reviewer_bound is not None or calibrator.reviewer_accuracy < 1
        ):
            raise ValueError("a conditional gold bound sets the bar alone: no overlap bound, reviewer_accuracy 1")
        self.guarantee = guarantee
        self.calibrator = calibrator
        self.reviewer_bound = reviewer_bound
        self.recheck = recheck
        self.gold_bound = gold_bound
        self._assumed_accuracy = calibrator.reviewer_accuracy  # the user's cap; the bounds only lower it
        self.audits = AuditEstimator(calibrator.confidence_level)  # this generation's
        self.audits_total = AuditEstimator(calibrator.confidence_level)  # every generation's
        self.drift_generation = 0
        self.closing = False
        """Whether the generation is about to close on a challenger swap (:meth:`ContractPolicy.closing_generation`):
        a validated threshold does not wait."""
        self._apply_reviewer_bound()

    @property
    def _conditional(self) -> bool:
        return isinstance(self.gold_bound, ConditionalGoldBound)

    def key(self, label: str) -> str:
        """The calibration key of a predicted class (all classes share one with the overall guarantee)."""
        return OVERALL if self.guarantee == "overall" else label

    @property
    def generation(self) -> int:
        """The calibration generation (evidence of another one is not used)."""
        return self.calibrator.generation

    # -- the thresholds in force ---------------------------------------------------------------

    def threshold(self, key: str) -> float | None:
        """The threshold in force for calibration key ``key``: the calibrator's lowest proven one, if the current
        model version's recheck validated it; else the lowest threshold above it both proven and validated; else
        none. Every threshold in force is proven (the calibrator's promise) *and* validated (the version's). With
        the recheck's ``patience``, a validated threshold also waits while another class is proven but not
        validated, for the class's first ``patience`` rechecks of the generation (:meth:`VersionRecheck.held`), unless
        the generation is :attr:`closing`."""
        in_force = self._validated(key)
        if in_force is None or self.recheck is None or not self.recheck.patience or self.closing:
            return in_force
        waiting = [
            other
            for other in self.calibrator.thresholds()
            if other != key and self.calibrator.threshold(other) is not None and self._validated(other) is None
        ]
        return None if self.recheck.held(key, waiting) else in_force

    def held(self) -> tuple[str, ...]:
        """Calibration keys whose threshold is proven and validated but waits (the recheck's patience): what a last
        relabel before a challenger swap may accept that the routing does not (:attr:`closing`)."""
        return tuple(
            key
            for key in self.calibrator.thresholds()
            if self._validated(key) is not None and self.threshold(key) is None
        )

    def _validated(self, key: str) -> float | None:
        """The calibrator's threshold for ``key`` as the recheck lets it stand (before any waiting)."""
        threshold = self.calibrator.threshold(key)
        if threshold is None or self.recheck is None:
            return threshold
        return self.recheck.in_force(key, threshold, self.calibrator.proven(key))

    def thresholds(self) -> dict[str, float | None]:
        """Every calibration key with evidence -> its threshold in force."""
        return {key: self.threshold(key) for key in self.calibrator.thresholds()}

    # -- learning ------------------------------------------------------------------------------

    def learn(self, evidence: Evidence) -> bool:
        """One answer: audit estimates, then calibration evidence if a review route selected it in this generation.
        Whether the calibration check found the evidence contradicting a proven threshold (a drift)."""
        prediction = evidence.prediction
        if prediction.label is None:
            return False
        context = evidence.context
        selection = selection_of(context)
        if selection is None:
            return False  # not selected by a review route (or routed before contexts existed): biased, left out
        same_generation = context.get("generation") == self.generation
        if evidence.reason == "audit":
            audit_probability = float(context.get("p_audit") or selection.probability)
            self.audits_total.learn_one(prediction.label, evidence.correct, audit_probability)
            if same_generation:
                self.audits.learn_one(prediction.label, evidence.correct, audit_probability)
        if not same_generation:
            return False
        bar, bet = None, True
        per_reviewer = self._per_reviewer
        if per_reviewer:  # this answer's own reviewer's bar (their bound is fixed before the answer)
            bar = self.reviewer_bar(evidence.reviewer)
            bet = bar is not None
            self.gold_bound.count_answer(evidence.reviewer)
        contradicted = self.calibrator.learn_one(
            self.key(prediction.label), prediction.confidence, evidence.correct, selection, evidence.timestamp, bar, bet
        )
        if per_reviewer:
            self._apply_reviewer_bound()  # the weighted accuracy (or bar) shown moved with the shares
        return contradicted

    @property
    def _weighted(self) -> bool:
        return isinstance(self.gold_bound, StreamWeightedGoldBound)

    @property
    def _conditional_weighted(self) -> bool:
        return isinstance(self.gold_bound, StreamWeightedConditionalGoldBound)

    @property
    def _per_reviewer(self) -> bool:
        """Whether each answer is bet against its own reviewer's bar."""
        return self._weighted or self._conditional_weighted

    def _accuracy_of(self, reviewer: str | None) -> float:
        """The accuracy an answer of ``reviewer`` is held to: the least of the user's cap, the overlap bound if on, and
        the reviewer's own gold bound."""
        bounds = [] if self.reviewer_bound is None else [self.reviewer_bound.upper()]
        return min([self._assumed_accuracy, *bounds, self.gold_bound.upper_of(reviewer)])

    def reviewer_bar(self, reviewer: str | None) -> float | None:
        """The agreement bar an answer of ``reviewer`` is held to (the bar in force but with a
        :class:`StreamWeightedGoldBound`); ``None``: no bet on it (a stake of 0, always sound). No bet on a reviewer
        bounded at 1/2 or below (no better than chance: section 5's bar needs better), nor on one whose gold answers
        so far are right no more often than the bar: even a perfect model's bets on their answers would lose on
        average (their share of right gold answers is fixed before the answer, so the choice is predictable)."""
        if self._conditional_weighted:
            return self.gold_bound.answer_bar(self.calibrator.target_precision, reviewer)
        if not self._weighted:
            return self.calibrator.bar
        return answer_bar(
            self.calibrator.target_precision, self._accuracy_of(reviewer), *self.gold_bound.counts_of(reviewer)
        )

    def _shown_accuracy(self, reviewer: str) -> float:
        """A reviewer's accuracy in the weighted one shown (1 for one not bet on: their answers prove nothing)."""
        return 1.0 if self.reviewer_bar(reviewer) is None else self._accuracy_of(reviewer)

    def keep_answer(self, x: Features, evidence: Evidence) -> None:
        """An answer's model input, for the recheck of later versions: only evidence of this generation, with its
        design's least review probability (``p_least``; answers routed before it existed are left out)."""
        if self.recheck is None or evidence.prediction.label is None:
            return
        context = evidence.context
        selection, least = selection_of(context), context.get("p_least")
        if selection is None or least is None or context.get("generation") != self.generation:
            return
        self.recheck.keep(x, evidence.true_label, float(least) / selection.probability, evidence.reviewer)

    def kept_answers(self) -> dict[str, Any] | None:
        """The answers kept for the recheck, with their generation (``None`` without a recheck): what a restarted
        learner needs besides the snapshot to keep validating its thresholds (:meth:`load_kept_answers`)."""
        if self.recheck is None:
            return None
        return {"generation": self.generation, **self.recheck.kept_state()}

    def load_kept_answers(self, state: Mapping[str, Any] | None) -> int:
        """Adopt :meth:`kept_answers` if they are of the current generation (else nothing); how many were adopted."""
        if self.recheck is None or not state or state.get("generation") != self.generation:
            return 0
        self.recheck.load_kept(state)
        return len(state.get("answers", ()))

    def recheck_version(self, model: Any, held_out: bool = False) -> dict[str, tuple[float, ...]]:
        """A new model version: re-test the calibrator's thresholds against it (no-op without a ``recheck``);
        the thresholds it validated per key. Call with the version about to be published; ``held_out``: the kept
        answers are a held-out sample it never learned (a warm start), and its thresholds do not wait."""
        if self.recheck is None:
            return {}
        bar_of = self.reviewer_bar if self._per_reviewer else None
        return self.recheck.run(
            model, self.calibrator.thresholds(), self.calibrator.bar, self.generation, held_out, bar_of
        )

    def learn_overlap(self, answers: list[str]) -> None:
        """Answers of two (or more) reviewers to one overlap item: the reviewer-accuracy bound learns its first pair.

        Only the first two answers count (a third one, an adjudication, is not independent of them).
        Without a ``reviewer_bound`` this does nothing.
        """
        if self.reviewer_bound is None or len(answers) < 2:
            return
        self.reviewer_bound.learn_pair(answers[0], answers[1])
        self._apply_reviewer_bound()

    def learn_gold(
        self,
        correct: bool,
        model_right: bool | None = None,
        agreed: bool | None = None,
        reviewer: str | None = None,
    ) -> bool:
        """A reviewer's answer to a gold item: whether it was right, and, if the model's proposal was shown, whether
        that proposal was right and the answer agreed with it (``None``: no proposal, e.g. at cold start); the
        reviewer's name (counted per reviewer by a :class:`HeldGoldAccuracyBound`, ``None``: ``"anonymous"``).
        Whether a bound learned it (the learned state changed: the learner's next version must hold it).

        An accuracy bound learns ``correct``; a :class:`ConditionalGoldBound` learns only answers to a proposal.
        Without a ``gold_bound`` this does nothing.
        """
        if self._conditional or self._conditional_weighted:
            if model_right is None or agreed is None:
                return False
            if self._conditional:
                self.gold_bound.learn(model_right, agreed)
            else:
                self.gold_bound.learn(model_right, agreed, reviewer)
        elif isinstance(self.gold_bound, HeldGoldAccuracyBound | StreamWeightedGoldBound):
            self.gold_bound.learn(correct, reviewer or "anonymous")
        elif self.gold_bound is not None:
            self.gold_bound.learn(correct)
        else:
            return False
        self._apply_reviewer_bound()
        return True

    def hold_reviewer(self, reviewer: str, held: bool) -> None:
        """The review service held ``reviewer`` (``held``) or let them answer again: a
        :class:`HeldGoldAccuracyBound` drops their gold answers, or counts their next ones; other bounds ignore it (a
        :class:`StreamWeightedGoldBound` needs nothing: a held reviewer answers no more, their bound unused)."""
        if not isinstance(self.gold_bound, HeldGoldAccuracyBound):
            return
        if held:
            self.gold_bound.hold(reviewer)
        else:
            self.gold_bound.release(reviewer)
        self._apply_reviewer_bound()

    def _apply_reviewer_bound(self) -> None:
        """The bar in force: the conditional gold bound's alone, else the least of the user's cap and the bounds
        present (it only moves down, but when a hold opens an epoch of a :class:`HeldGoldAccuracyBound`)."""
        if self._conditional:
            self.calibrator.set_agreement_bar(self.gold_bound.bar(self.calibrator.target_precision))
            return
        if self._conditional_weighted:  # the stream-share mean of the answers' bars (1 for a reviewer not bet on)
            bar = self.gold_bound.weighted(lambda name: self.reviewer_bar(name) or 1.0)
            if bar != self.calibrator.bar:
                self.calibrator.set_agreement_bar(bar)
            return
        if self._weighted:  # the stream-share mean of the accuracies the answers are held to (each already capped)
            accuracy = min(self._assumed_accuracy, self.gold_bound.weighted(self._shown_accuracy))
            if self.reviewer_bound is not None:
                accuracy = min(accuracy, self.reviewer_bound.upper())
            if accuracy != self.calibrator.reviewer_accuracy:
                self.calibrator.set_reviewer_accuracy(accuracy)
            return
        bounds = [bound.upper() for bound in (self.reviewer_bound, self.gold_bound) if bound is not None]
        accuracy = min([self._assumed_accuracy, *bounds])
        if accuracy != self.calibrator.reviewer_accuracy:
            self.calibrator.set_reviewer_accuracy(accuracy)

    def new_generation(self, reset: bool) -> int:
        """A drift seen in the evidence: the next drift generation, whose number it returns; with ``reset`` the
        calibration, this generation's audits and the recheck start afresh."""
        self.drift_generation += 1
        if reset:
            self.calibrator.reset()
            self.audits = AuditEstimator(self.calibrator.confidence_level)
            if self.recheck is not None:
                self.recheck.reset()
        return self.drift_generation

    # -- state -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What ships in a model snapshot (the policy adds its strategy's)."""
        return {
            "calibration": self.calibrator.state(),
            "audits": self.audits.state(),
            "audits_total": self.audits_total.state(),
            "drift_generation": self.drift_generation,
            "reviewer_bound": None if self.reviewer_bound is None else self.reviewer_bound.state(),
            "gold_bound": None if self.gold_bound is None else self.gold_bound.state(),
            "recheck": None if self.recheck is None else self.recheck.state(),
        }

    def load_state(self, state: Mapping[str, Any]) -> int:
        """Adopt :meth:`state` (the learner's evidence and generation); the snapshot's drift generation.

        The generation only moves forward: a snapshot of an older one (a rollback) keeps the newer
        number, so answers routed since are never taken for evidence of the older generation.
        """
        generation = self.calibrator.generation
        self.calibrator.load_state(state.get("calibration", {}))
        rolled_back = self.calibrator.generation < generation
        if rolled_back:
            self.calibrator.reset()  # the rolled-back evidence belongs to an older generation: start afresh
            self.calibrator.generation = generation + 1
        if self.recheck is not None:  # the validated thresholds travel with their version; kept answers do not
            # (the learner stores them beside it: load_kept_answers)
            self.recheck.reset()
            self.recheck.load_state(state.get("recheck") or {})
            if rolled_back:
                self.recheck.validated.clear()
        self.audits.load_state(state.get("audits", {}))
        self.audits_total.load_state(state.get("audits_total", {}))
        if self.reviewer_bound is not None:
            self.reviewer_bound.load_state(state.get("reviewer_bound") or {})
        gold_state = state.get("gold_bound") or {}
        same_kind = (
            bool(gold_state.get("conditional")) == self._conditional
            and bool(gold_state.get("held_aware")) == isinstance(self.gold_bound, HeldGoldAccuracyBound)
            and bool(gold_state.get("stream_weighted")) == self._weighted
            and bool(gold_state.get("conditional_weighted")) == self._conditional_weighted
        )
        if self.gold_bound is not None and same_kind:
            self.gold_bound.load_state(gold_state)  # a snapshot of another kind of gold bound is not adopted
        self._apply_reviewer_bound()
        loaded = int(state.get("drift_generation", 0))
        self.drift_generation = max(self.drift_generation, loaded)
        return loaded
