"""The learner's record of answers it holds for a second review (``label_errors``).

``<prefix>:second_review:<record id>`` holds the flagged answer (its id,
reviewer and label, and the class the model suggested) for
``review.done_keep_seconds``. The learner writes it when it flags an answer,
before it asks for the second review, and reads it twice:

- on a replayed answer (after a crash): an answer flagged before is held
  again, whatever the detector thinks now — otherwise it could be learned
  alone *and* in its second review's consensus;
- on a ``consensus`` correction: a second review's consensus is learned by
  the model but is no new evidence (its first answer was evidence already),
  and it resolves the flag (confirmed or overturned).

The record is never deleted early: a replayed consensus must still find it.
"""

from __future__ import annotations

import orjson
import redis

from labelstream.settings import Settings


class SecondReviews:
    """Flagged answers by record id, in Redis with a TTL."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> SecondReviews:
        return cls(client, settings.redis.key_prefix, settings.review.done_keep_seconds)

    def key(self, record_id: str) -> str:
        return f"{self.prefix}:second_review:{record_id}"

    def hold(self, record_id: str, answer_id: str, reviewer: str, label: str, suggested: str) -> None:
        """Remember a flagged answer (the latest flagged answer of a record wins)."""
        value = {"answer_id": answer_id, "reviewer": reviewer, "label": label, "suggested": suggested}
        self.client.set(self.key(record_id), orjson.dumps(value), ex=self.ttl_seconds)

    def get(self, record_id: str) -> dict | None:
        """The flagged answer held for a record, or ``None``."""
        raw = self.client.get(self.key(record_id))
        return None if raw is None else orjson.loads(raw)
