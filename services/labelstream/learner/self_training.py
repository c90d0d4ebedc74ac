"""Self-training in the learner: sure auto-labels read back from ``labels`` are learned once (docs/self-training.md)."""

from __future__ import annotations

from typing import Any

import orjson

from labelstream.core.engine import LabelingEngine
from labelstream.core.policy import Prediction
from labelstream.learner.joined import subject_of
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.store.records import RecordStore

# Labels on ``labels`` that self-training may learn (not the human ones: those came as corrections).
AUTO_METHODS = frozenset({"auto", "weak"})


class SelfTrainingReader:
    """Learns the automatic labels read back from ``labels`` that :attr:`LabelingEngine.self_training` accepts."""

    def __init__(self, engine: LabelingEngine, store: RecordStore, pending: Pending, retry: RedisRetry) -> None:
        self.engine = engine
        self.store = store
        self.pending = pending
        self.retry = retry

    async def handle(self, message: Any) -> None:
        """Learn one auto-label read back from ``labels`` if it is sure enough (see :mod:`labelstream.learner`)."""
        tp = f"{message.topic}:{message.partition}"
        if self.pending.learned(tp, message.offset):
            return
        trainer = self.engine.self_training
        label = auto_label(message.value)
        record_id = message.key.decode() if message.key else ""
        if label is None or label[1] < trainer.min_confidence or not record_id or not trainer.first_time(record_id):
            self.pending.advance(tp, message.offset)
            return
        stored = await self.retry.call(self.store.get, record_id)
        await self.pending.snapshot_stored()
        # From here to the offset, no await: a snapshot holds this label's learning and its offset, or neither.
        if stored is None:
            trainer.unjoinable += 1
        else:
            name, confidence = label
            if self.engine.learn_auto_label(subject_of(self.engine, stored), Prediction({name: confidence}, name, confidence)):
                self.pending.self_taught += 1
        self.pending.advance(tp, message.offset)


def auto_label(value: bytes | None) -> tuple[str, float] | None:
    """(label, score) of an automatic label on ``labels``; ``None`` for a human one or anything unreadable.

    >>> auto_label(b'{"method": "auto", "label": "spam", "confidence": 0.99}'), auto_label(b'{"method": "human"}')
    (('spam', 0.99), None)
    """
    try:
        data = orjson.loads(value or b"")
        if data.get("method") in AUTO_METHODS:
            return str(data["label"]), float(data["confidence"])
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        pass
    return None
