"""One human answer learned: joined with its record, learned by the model, its evidence to the policy, its label out.

The kinds of correction and what each does are in :mod:`labelstream.learner`'s docstring; a ``gold``
answer (:mod:`labelstream.review.gold`) only reaches the policy (:meth:`AnswerLearner.learn_gold`).
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

import redis

from labelstream.core.schemas import Correction, Label
from labelstream.drift_handling import DriftHandler
from labelstream.learner.answer_drift import AnswerDrift
from labelstream.learner.context import LearnerContext
from labelstream.learner.joined import ModelInput, subject_of
from labelstream.learner.second_review import SecondReviewHold
from labelstream.review.labelset import LabelSet
from labelstream.store.records import RecordStore
from labelstream.store.second_reviews import SecondReviews

log = logging.getLogger("labelstream.learner")

# Corrections that are not learned, by kind -> the result counted (labelstream_corrections_total).
NOT_LEARNED = {"overlap": "overlap_answer", "retraction": "retracted"}

GOLD_KEYWORDS = {"proposal_correct": "model_right", "agreed_with_proposal": "agreed"}
"""A gold correction's proposal fields (schema 1.2) -> the keyword of the policy's ``learn_gold`` that takes each."""


@functools.cache
def gold_keywords(policy_type: type) -> dict[str, str]:
    """The :data:`GOLD_KEYWORDS` this kind of policy's ``learn_gold`` takes: its signature, read once per type (a
    policy of before schema 1.2 takes ``correct`` alone, and is called so).

    >>> class Old:
    ...     def learn_gold(self, correct: bool) -> None: ...
    >>> class New:
    ...     def learn_gold(self, correct: bool, model_right: bool | None = None, agreed: bool | None = None) -> None: ...
    >>> gold_keywords(Old), gold_keywords(New)
    ({}, {'proposal_correct': 'model_right', 'agreed_with_proposal': 'agreed'})
    """
    parameters = inspect.signature(policy_type.learn_gold).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(GOLD_KEYWORDS)
    return {field: keyword for field, keyword in GOLD_KEYWORDS.items() if keyword in parameters}


@functools.cache
def takes_reviewer(policy_type: type) -> bool:
    """Whether this kind of policy's ``learn_gold`` takes ``reviewer`` by name (a gold bound that drops held
    reviewers' answers counts them per reviewer).

    >>> class Old:
    ...     def learn_gold(self, correct: bool, model_right: bool | None = None, agreed: bool | None = None) -> None: ...
    >>> class New:
    ...     def learn_gold(self, correct: bool, reviewer: str | None = None) -> None: ...
    >>> takes_reviewer(Old), takes_reviewer(New)
    (False, True)
    """
    return "reviewer" in inspect.signature(policy_type.learn_gold).parameters


class AnswerLearner:
    """Learns one correction: the model learns it, the policy weighs its evidence, its label goes to ``labels``."""

    def __init__(
        self,
        context: LearnerContext,
        store: RecordStore,
        label_set: LabelSet,
        second_reviews: SecondReviews,
        topics: dict[str, Any],
        drift: DriftHandler,
        model_name: str,
    ) -> None:
        self.engine = engine = context.engine
        self.store = store
        self.label_set = label_set
        self.second_reviews = second_reviews
        self.labels_topic = topics["labels"]
        self.pending = pending = context.pending
        self.retry = retry = context.retry
        self.drift = drift
        self.metrics = metrics = context.metrics
        self.events = context.events
        self.version_check = context.version_check
        self.model_name = model_name
        self.answer_drift = AnswerDrift(engine, drift, metrics, context.events)
        self.hold = SecondReviewHold(
            engine, second_reviews, topics["review"], pending, retry, self.answer_drift, metrics
        )

    async def learn(self, correction: Correction, tp: str, offset: int) -> tuple[str, str] | None:
        """Join, learn and emit the human label; (kind, reason) when it cannot be learned."""
        if correction.kind == "gold":  # see the module docstring
            if self.learn_gold(correction):  # the bound moved: only a version may hold it (then its offset is acked)
                self.pending.unpublished.append(correction.timestamp)
            self.pending.advance(tp, offset)
            return None
        if correction.kind == "hold":
            if self.learn_hold(correction):
                self.pending.unpublished.append(correction.timestamp)  # the bar moved: worth a version
            self.pending.advance(tp, offset)
            return None
        problem = await self._label_problem(correction.label)
        if problem is not None:
            return problem
        if correction.kind in NOT_LEARNED:  # see the module docstring
            self.pending.advance(tp, offset)
            self.metrics.record_corrections(1, NOT_LEARNED[correction.kind])
            return None
        stored = await self.retry.call(self.store.get, correction.id)  # Redis restarting: wait, do not dead-letter
        if stored is None:
            return (
                "unknown_record",
                f"record {correction.id!r} is unknown or its features expired (redis.record_ttl_seconds)",
            )
        subject = subject_of(self.engine, stored)
        model_input = ModelInput(self.engine, subject)  # featurized once: label-error check, version check, model
        if await self.hold.held(correction, stored, tp, offset, model_input):
            return None
        # A second review's consensus: its first answer was evidence already (see the module docstring).
        held = await self.retry.call(self.second_reviews.get, correction.id) if correction.kind == "consensus" else None
        await self.pending.snapshot_stored()  # the last await before the learning and its offset
        self._referee_challenger(stored.features, correction.label, model_input)
        generation = self.answer_drift.generation()
        evidence_label, answered_by = self._evidence_answer(correction)
        evidence = (
            None
            if held is not None or correction.counted_before
            else stored.evidence(evidence_label, correction.timestamp, answered_by)
        )
        if self.version_check is not None:  # the answered records: reviews, and the audits of the auto region
            self.version_check.observe(model_input.of_features())
        self.engine.learn(subject, correction.label, evidence, x=None if model_input.has_text() else model_input.get())
        # After the evidence: its bet used the bar in force before this item's answers (docs/contract.md, 5).
        if (
            held is None
            and not correction.counted_before
            and correction.answers
            and len(correction.answers) >= 2
            and hasattr(self.engine.policy, "learn_overlap")
        ):
            self.engine.policy.learn_overlap(list(correction.answers.values())[:2])  # the bound ships with the version
        if held is not None and self.engine.label_errors is not None:
            self.engine.label_errors.resolve(held["label"], correction.label)
        self.pending.advance(tp, offset)
        self.answer_drift.report(generation, correction.id)
        if stored.outcome == "review":
            try:
                self.store.review_answered()
            except redis.RedisError as exc:  # a gauge: not worth crashing the agent after the learning
                log.warning("review backlog not updated: %s", exc)
        self.pending.corrections_applied += 1
        self.pending.unpublished.append(correction.timestamp)
        self.metrics.record_corrections(1, "learned")
        consensus = correction.kind == "consensus"
        label = Label(
            id=correction.id,
            label=correction.label,
            confidence=correction.confidence if consensus and correction.confidence is not None else 1.0,
            method="consensus" if consensus else "human",
            model_version=self.engine.model_version or None,
            policy=stored.reason,
            reviewer=None if consensus else correction.reviewer,
        )
        self.pending.sends.append(
            await self.labels_topic.send(key=correction.id.encode(), value=label.model_dump_json().encode())
        )
        return None

    def learn_gold(self, correction: Correction) -> bool:
        """A reviewer's answer to a gold item: the policy counts it toward the reviewers' accuracy, if it measures
        that (``learn_gold``); the model never learns it, the record store is not read, nothing goes to ``labels``.
        Whether the policy took it (a ``learn_gold`` that returns nothing: taken), so that a version holds it before
        its offset is acked: acked without one, a learner killed before the next version forgot it for good.

        Shown with a proposal, the answer also says whether that proposal was right (``model_right``) and whether
        the reviewer took it (``agreed``): passed as keywords when the correction has them and the policy's
        ``learn_gold`` takes them (:func:`gold_keywords`); so is the reviewer's name (:func:`takes_reviewer`)."""
        policy = self.engine.policy
        if correction.correct is not None and hasattr(policy, "learn_gold"):
            shown: dict[str, Any] = {
                keyword: value
                for field, keyword in gold_keywords(type(policy)).items()
                if (value := getattr(correction, field)) is not None
            }
            if takes_reviewer(type(policy)):
                shown["reviewer"] = correction.reviewer
            taken = policy.learn_gold(correction.correct, **shown)
        else:
            taken = False
        self.metrics.record_corrections(1, "gold_right" if correction.correct else "gold_wrong")
        return taken is not False

    def learn_hold(self, correction: Correction) -> bool:
        """The review service held a reviewer (``held``) or let them claim again: the policy's gold bound drops their
        gold answers, or counts their next ones (``hold_reviewer``; docs/contract.md section 5, "Holds"), and a model
        version ships the bound soon (whether the policy took it). Counted as ``reviewer_held`` or
        ``reviewer_released``."""
        policy = self.engine.policy
        self.metrics.record_corrections(1, "reviewer_held" if correction.held else "reviewer_released")
        if correction.held is None or not hasattr(policy, "hold_reviewer"):
            return False
        policy.hold_reviewer(correction.reviewer, correction.held)
        return True

    async def _label_problem(self, label: str) -> tuple[str, str] | None:
        """``unknown_label`` when the label set is defined and lacks ``label``; waits out a Redis restart."""
        while True:
            try:
                if label in self.label_set:
                    return None
                return "unknown_label", (
                    f"label {label!r} is not in the label set ({self.label_set.describe()}); "
                    "an admin adds one with: labelstream labels add NAME"
                )
            except redis.RedisError as exc:
                self.retry.failed(exc)
                await self.retry.pause()

    def _evidence_answer(self, correction: Correction) -> tuple[str, str | None]:
        """The label the policy's evidence compares with, and who gave it: with a reviewer-accuracy bound, an overlap
        item's first answer and its reviewer; else the correction's label and reviewer (a consensus's is
        ``consensus``, a name no gold answer carries: a stream-weighted gold bound holds it to the target's own bar).

        The bound measures one reviewer's accuracy, so the evidence must be one reviewer's answer: the
        consensus is more accurate than that, and an agreement bar lowered for one reviewer's errors would
        then overstate the precision (docs/contract.md, Noisy reviewers). The model still learns the consensus.
        """
        if correction.answers and getattr(self.engine.policy, "reviewer_bound", None) is not None:
            reviewer, label = next(iter(correction.answers.items()))
            return label, reviewer
        return correction.label, correction.reviewer

    def _referee_challenger(self, features: dict[str, Any], label: str, model_input: ModelInput) -> None:
        """Show a running challenger the answer (before anyone learns it), and adopt it if it now wins."""
        reaction = self.drift.reaction
        if reaction.challenger is None or not reaction.challenger.active:
            return
        x = model_input.of_features()
        champion = self.engine.predict([features])[0].label
        reaction.observe_answer(x, label, champion)
        winner = reaction.take_winner()
        if winner is not None:
            self.engine.model = winner
            self.engine.policy.on_drift("challenger")  # a new model's scores need their own evidence
            self.pending.challenger_won = True
            self.events.publish("rollback", model_name=self.model_name, reason="challenger won after drift")
            log.warning("challenger model won after a drift: it becomes the next version")
