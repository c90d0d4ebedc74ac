"""Label-error detection in the learner: hold an answer a confident model contradicts, ask for a second review.

See ``label_errors`` in :mod:`labelstream.learner` and docs/label-errors.md.
"""

from __future__ import annotations

import logging
from typing import Any

from labelstream.core.engine import LabelingEngine
from labelstream.core.schemas import Correction, FlaggedAnswer, Record, ReviewRequest
from labelstream.learner.answer_drift import AnswerDrift
from labelstream.learner.joined import ModelInput, record_of
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.metrics import Metrics
from labelstream.store.records import StoredRecord
from labelstream.store.second_reviews import SecondReviews

log = logging.getLogger("labelstream.learner")

# A second review is served before new records: the model waits for it.
SECOND_REVIEW_PRIORITY = 1.0


class SecondReviewHold:
    """Holds contradicted answers (``label_errors``): evidence now, a ``disagreement`` review request, no learning."""

    def __init__(
        self,
        engine: LabelingEngine,
        second_reviews: SecondReviews,
        review_topic: Any,
        pending: Pending,
        retry: RedisRetry,
        drift: AnswerDrift,
        metrics: Metrics,
    ) -> None:
        self.engine = engine
        self.second_reviews = second_reviews
        self.review_topic = review_topic
        self.pending = pending
        self.retry = retry
        self.drift = drift
        self.metrics = metrics

    async def held(
        self, correction: Correction, stored: StoredRecord, tp: str, offset: int, model_input: ModelInput
    ) -> bool:
        """Hold an answer a confident model contradicts (``label_errors``); whether it was held.

        Only a review-service answer (it has an ``answer_id``) is checked: its
        item can be reopened for one more reviewer. ``model_input``: the answer's record, featurized once.
        """
        detector = self.engine.label_errors
        if detector is None or correction.kind != "answer" or correction.answer_id is None:
            return False
        flag, probabilities = self.engine.check_answer(model_input.subject, correction.label, model_input.get())
        held_before = await self.retry.call(self.second_reviews.get, correction.id)
        replayed = held_before is not None and held_before.get("answer_id") == correction.answer_id
        if flag is None and not replayed:
            detector.learn_one(probabilities, correction.label)
            return False
        suggested = flag.suggested if flag is not None else str(held_before.get("suggested", ""))
        confidence = flag.confidence if flag is not None else float(probabilities.get(suggested, 0.0))
        await self.retry.call(
            self.second_reviews.hold,
            correction.id,
            correction.answer_id,
            correction.reviewer,
            correction.label,
            suggested,
        )
        request = _review_request(correction, stored, suggested, confidence)
        # Sent before the offset advances: a snapshot that holds the offset also waits for this delivery.
        self.pending.deliveries.append(
            await self.review_topic.send(key=correction.id.encode(), value=request.model_dump_json().encode())
        )
        await self.pending.snapshot_stored()
        # From here to the offset, no await: a snapshot holds all of this answer's effects or none.
        detector.learn_one(probabilities, correction.label, flagged=True)
        generation = self.drift.generation()
        if not correction.counted_before:  # a superseding answer (an undo or a correction): its record counted once
            evidence = stored.evidence(correction.label, correction.timestamp, correction.reviewer)  # their own bar
            self.engine.learn_evidence(evidence, model_input.get())
        self.pending.advance(tp, offset)
        self.drift.report(generation, correction.id)
        self.metrics.record_corrections(1, "held_for_second_review")
        log.info(
            "answer %s (%s) held for a second review: the model says %s (%.2f)",
            correction.answer_id,
            correction.label,
            suggested,
            confidence,
        )
        return True


def _review_request(correction: Correction, stored: StoredRecord, suggested: str, confidence: float) -> ReviewRequest:
    """The ``disagreement`` review request of a held answer: its record, as routed, and the flagged answer."""
    return ReviewRequest(
        id=correction.id,
        record=record_of(stored)
        if stored.record_json is not None
        else Record(id=correction.id, features=stored.features),
        proposed_label=max(stored.probabilities, key=stored.probabilities.get) if stored.probabilities else None,
        probabilities=stored.probabilities,
        reason="disagreement",
        priority=SECOND_REVIEW_PRIORITY,
        inclusion_probability=stored.inclusion_probability,
        model_version=stored.model_version,
        context=stored.context,
        flagged_answer=FlaggedAnswer(
            answer_id=correction.answer_id,
            reviewer=correction.reviewer,
            label=correction.label,
            suggested_label=suggested,
            confidence=min(1.0, max(0.0, confidence)),
        ),
    )
