"""The review queue's housekeeping and admin: expired leases back in line, items taken out or taken back."""

from __future__ import annotations

import time
from collections.abc import Iterable

from labelstream.review.queue_store import QueueStore, as_text


class Maintenance(QueueStore):
    """Reaping expired leases; an admin's expire and requeue; the ids of held and waiting items."""

    def reap(self, now: float | None = None) -> int:
        """Return items of expired leases to the queue; how many."""
        return int(self._run("reap", time.time() if now is None else now))

    def expire(self, record_ids: Iterable[str]) -> int:
        """Admin: take waiting items out of the queue for good; how many were waiting."""
        ids = list(record_ids)
        return int(self._run("expire", self.done_keep_seconds, *ids)) if ids else 0

    def requeue(self, record_ids: Iterable[str]) -> int:
        """Admin: take leased items back from their holders, into the queue now; how many were leased."""
        ids = list(record_ids)
        return int(self._run("requeue", *ids)) if ids else 0

    def held_ids(self, reviewer: str | None = None, older_than: float | None = None) -> list[str]:
        """Ids of leased items (held by ``reviewer``, claimed before ``older_than`` epoch seconds, if given)."""
        held = []
        for record_id in (as_text(i) for i in self.client.zrange(f"{self.prefix}:review:leases", 0, -1)):
            holder, leased_at = self.item_fields(record_id, "holder", "leased_at")
            if holder is None or (reviewer is not None and holder != reviewer):
                continue
            if older_than is None or float(leased_at or 0) < older_than:
                held.append(record_id)
        return held

    def waiting_ids(self, older_than: float | None = None, limit: int = 100_000) -> list[str]:
        """Ids of waiting items, best-ranked first (requested before ``older_than`` epoch seconds, if given)."""
        ids = []
        for key in (f"{self.prefix}:review:waiting", f"{self.prefix}:review:waiting_seen"):
            for member in self.client.zrange(key, 0, limit - 1):
                stamp, record_id = as_text(member).split("|", 1)
                if older_than is None or float(stamp) < older_than:
                    ids.append(record_id)
        return ids
