"""Queue items: a review request as the queue stores it, and as a reviewer receives it.

:meth:`QueueItem.from_request` turns a ``review`` message into what the queue
keeps: its rank (priority first, then the request's age), how many reviewers
must answer it (``overlap_k`` for the share ``overlap_share`` of items, chosen
by a hash of the id so that a replayed request is chosen the same way), the
request itself and the routing context the learner needs to learn the answer
(:class:`~labelstream.store.records.StoredRecord`), kept for as long as the item
waits.

>>> raw = b'{"id": "r1", "record": {"id": "r1", "features": {"x": 1}}, "proposed_label": "a", "probabilities": {"a": 0.6, "b": 0.4}, "reason": "uncertain", "priority": 0.4, "timestamp": 1700000000.5}'
>>> item = QueueItem.from_request(raw)
>>> item.id, item.score, item.member, item.needed
('r1', -0.4, '0001700000000.500000|r1', 1)
>>> QueueItem.from_request(raw, overlap_share=1.0, overlap_k=3).needed
3

A request for a second review (``reason="disagreement"``, sent by the learner
for a flagged answer, ``label_errors``) carries the flagged answer: the queue
reopens the item with it (:meth:`~labelstream.review.queue.ReviewQueue.reopen`),
and the request a reviewer receives leaves it out, so the second reviewer
answers without seeing the first answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from labelstream.core.schemas import ReviewRequest
from labelstream.store.records import StoredRecord

MEMBER_TIME_WIDTH = 20
"""Width of the zero-padded request time that starts a queue member (Lua cuts the id at 22)."""


def in_overlap(record_id: str, overlap_share: float) -> bool:
    """Whether an item is an overlap item: a hash of its id below the share (same answer on a replay)."""
    if overlap_share <= 0:
        return False
    digest = int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:8], "big")
    return digest / 2**64 < overlap_share


@dataclass(frozen=True, slots=True)
class QueueItem:
    """What the queue stores for one review request."""

    id: str
    score: float
    member: str
    needed: int
    request: bytes
    stored: bytes
    flagged_answer: dict | None = None
    """A second review's flagged answer (answer_id, reviewer, label); ``None`` for a plain request."""

    @classmethod
    def from_request(cls, raw: bytes, overlap_share: float = 0.0, overlap_k: int = 2) -> QueueItem:
        """Validate a ``review`` message (pydantic raises on a bad one) and prepare it for the queue."""
        request = ReviewRequest.model_validate_json(raw)
        stored = StoredRecord(
            id=request.id,
            features=request.record.features,
            outcome="review",
            reason=request.reason,
            probabilities=request.probabilities,
            inclusion_probability=request.inclusion_probability,
            model_version=request.model_version,
            routed_at=request.timestamp,
            record_json=request.record.model_dump_json(exclude_defaults=True).encode(),
            context=request.context,
        )
        timestamp = max(0.0, request.timestamp)
        flagged = request.flagged_answer
        return cls(
            id=request.id,
            score=-request.priority,
            member=f"{timestamp:0{MEMBER_TIME_WIDTH}.6f}|{request.id}",
            needed=overlap_k if flagged is None and in_overlap(request.id, overlap_share) else 1,
            request=raw if flagged is None else request.model_dump_json(exclude={"flagged_answer"}).encode(),
            stored=stored.to_json(),
            flagged_answer=None if flagged is None else flagged.model_dump(),
        )


@dataclass(frozen=True, slots=True)
class LeasedItem:
    """An item leased to a reviewer: the review request and the lease.

    ``id`` is the id the reviewer is shown, ``key`` the item's key in the queue: the same but for a gold instance,
    shown under an id apart from its random key (:mod:`~labelstream.review.gold`, "Shown id"); the key is never
    shown to the reviewer.
    """

    id: str
    lease: str
    lease_expires_at: float
    request: dict
    needed: int
    key: str = ""

    @classmethod
    def from_reply(cls, reply: list) -> LeasedItem:
        """From a claim or undo script reply: status, id as shown, lease, expires, request, needed, extra, key, ..."""
        _status, record_id, lease, expires, request, needed, _extra, key = (_text(v) for v in reply[:8])
        return cls(record_id, lease, float(expires), orjson.loads(request), int(needed), key)

    @property
    def overlap(self) -> bool:
        return self.needed > 1


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
