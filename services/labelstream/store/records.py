"""Routed records kept in Redis with a TTL: what the learner joins a correction with.

For each record that went to review or was deferred, the labeler stores its
features and the routing context (prediction, reason, inclusion probability,
model version, and the policy's opaque :attr:`~labelstream.core.policy.Decision.context`)
under ``<prefix>:rec:<id>``. Deferred ids are also indexed in
``<prefix>:deferred`` (a sorted set by time) for relabeling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from labelstream.core.policy import Evidence, Prediction
from labelstream.settings import Settings


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record's features and how it was routed."""

    id: str
    features: dict[str, Any]
    outcome: str
    reason: str
    probabilities: dict[str, float]
    inclusion_probability: float
    model_version: int | None
    routed_at: float
    record_json: bytes | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def evidence(self, true_label: str, timestamp: float = 0.0, reviewer: str | None = None) -> Evidence:
        """The human answer to this record as evidence for the policy (with the decision's context and who gave it)."""
        return Evidence(
            Prediction.from_probabilities(self.probabilities),
            true_label,
            reason=self.reason,
            inclusion_probability=self.inclusion_probability,
            timestamp=timestamp,
            context=self.context,
            reviewer=reviewer,
        )

    def to_json(self) -> bytes:
        """The routing context with the record embedded as its original bytes (features not re-encoded)."""
        record = orjson.Fragment(self.record_json) if self.record_json is not None else {"features": self.features}
        return orjson.dumps(
            {
                "record": record,
                "outcome": self.outcome,
                "reason": self.reason,
                "probabilities": self.probabilities,
                "inclusion_probability": self.inclusion_probability,
                "model_version": self.model_version,
                "routed_at": self.routed_at,
                "context": self.context,
            }
        )

    @classmethod
    def from_json(cls, record_id: str, raw: bytes) -> StoredRecord:
        data = orjson.loads(raw)
        record = data["record"]
        return cls(
            id=record_id,
            features=record["features"],
            outcome=data["outcome"],
            reason=data["reason"],
            probabilities=data["probabilities"],
            inclusion_probability=data["inclusion_probability"],
            model_version=data["model_version"],
            routed_at=data["routed_at"],
            record_json=orjson.dumps(record) if "id" in record else None,
            context=data.get("context") or {},  # records stored before the context existed have none
        )


# KEYS: n record keys, the deferred sorted set, the review counter.
# ARGV: ttl, n, n values, reviews, then (score, id) pairs of deferred records.
_PUT_MANY = """
local n = tonumber(ARGV[2])
for i = 1, n do redis.call('SET', KEYS[i], ARGV[2 + i], 'EX', ARGV[1]) end
local reviews = tonumber(ARGV[3 + n])
if reviews > 0 then redis.call('INCRBY', KEYS[n + 2], reviews) end
for i = 4 + n, #ARGV, 2 do redis.call('ZADD', KEYS[n + 1], ARGV[i], ARGV[i + 1]) end
return n
"""


class RecordStore:
    """Features and routing context of routed records, with a TTL."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._put_script = client.register_script(_PUT_MANY)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> RecordStore:
        return cls(client, settings.redis.key_prefix, settings.redis.record_ttl_seconds)

    def _key(self, record_id: str) -> str:
        return f"{self.prefix}:rec:{record_id}"

    def key(self, record_id: str) -> str:
        """The Redis key of a record (the review queue keeps it joinable while an item waits)."""
        return self._key(record_id)

    @property
    def deferred_key(self) -> str:
        return f"{self.prefix}:deferred"

    @property
    def review_open_key(self) -> str:
        """Review requests sent minus answers learned: the review backlog (approximate across crashes)."""
        return f"{self.prefix}:review:open"

    def review_answered(self) -> None:
        self.client.decr(self.review_open_key)

    def review_backlog(self) -> int:
        return max(0, int(self.client.get(self.review_open_key) or 0))

    def put_many(self, records: Sequence[StoredRecord], count_reviews: bool = True, queue_deferred: bool = True) -> None:
        """Store a batch in one round trip: one Lua call (not transactional with Kafka; a redone batch overwrites).

        One script call instead of a pipeline of SETs: the client packs one
        command and parses one reply, 2 us a record instead of 16 us. With
        ``count_reviews=False`` the review-backlog counter is left alone: the
        labeler stores before its transaction commits and counts after it
        (:meth:`count_reviews`), so that a retried batch does not count twice.
        With ``queue_deferred=False`` deferred records are not put in the
        relabel queue: the labeler queues them after the commit
        (:meth:`queue_deferred`), so that no labeler relabels a record whose
        deferred outcome may never commit (it would be routed, deferred and
        relabeled again: two relabels).
        """
        if not records:
            return
        keys = [self._key(r.id) for r in records]
        deferred = [arg for r in records if r.outcome == "deferred" for arg in (r.routed_at, r.id)] if queue_deferred else []
        reviews = sum(r.outcome == "review" for r in records) if count_reviews else 0
        args = [self.ttl_seconds, len(records), *(r.to_json() for r in records), reviews, *deferred]
        self._put_script(keys=[*keys, self.deferred_key, self.review_open_key], args=args, client=self.client)

    def queue_deferred(self, waiting_since: Mapping[str, float]) -> None:
        """Put deferred ids (-> when they were routed) in the relabel queue."""
        if waiting_since:
            self.client.zadd(self.deferred_key, dict(waiting_since))

    def count_reviews(self, n: int) -> None:
        """``n`` more review requests published (the review-backlog counter)."""
        self.client.incrby(self.review_open_key, n)

    def count_and_queue(self, reviews: int, waiting_since: Mapping[str, float]) -> None:
        """:meth:`count_reviews` and :meth:`queue_deferred` in one round trip (a pipeline, not a transaction:
        on an error either may have been applied; both are safe to lose or, for the queue, to repeat)."""
        pipe = self.client.pipeline(transaction=False)
        if reviews:
            pipe.incrby(self.review_open_key, reviews)
        if waiting_since:
            pipe.zadd(self.deferred_key, dict(waiting_since))
        if len(pipe):
            pipe.execute()

    def get(self, record_id: str) -> StoredRecord | None:
        """The stored record, or ``None`` when unknown or expired."""
        raw = self.client.get(self._key(record_id))
        return None if raw is None else StoredRecord.from_json(record_id, raw)

    def get_many(self, record_ids: Sequence[str]) -> list[StoredRecord | None]:
        raws = self.client.mget([self._key(i) for i in record_ids]) if record_ids else []
        return [None if raw is None else StoredRecord.from_json(i, raw) for i, raw in zip(record_ids, raws, strict=True)]

    def deferred_ids(self, limit: int = 10_000) -> list[str]:
        """Oldest deferred ids first."""
        return [i.decode() for i in self.client.zrange(self.deferred_key, 0, limit - 1)]

    def resolve_deferred(self, record_ids: Iterable[str]) -> None:
        """Forget deferred ids that got their final outcome."""
        ids = list(record_ids)
        if ids:
            self.client.zrem(self.deferred_key, *ids)

    def deferred_count(self) -> int:
        return int(self.client.zcard(self.deferred_key))

    def claim_deferred(self, limit: int) -> list[str]:
        """Atomically take up to ``limit`` of the longest-waiting deferred ids (no two labelers get the same)."""
        return [member.decode() for member, _score in self.client.zpopmin(self.deferred_key, limit)]

    def requeue_deferred(self, record_ids: Iterable[str], at: float) -> None:
        """Put ids back at the end of the queue (they wait for a later model version)."""
        ids = list(record_ids)
        if ids:
            self.client.zadd(self.deferred_key, dict.fromkeys(ids, at))
