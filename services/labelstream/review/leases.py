"""Review items in, and leased out one at a time: enqueue, reopen, claim, heartbeat, skip, release.

A claim reads and leases in one step, so two reviewers never hold the same
item. Order: highest ``priority`` first, then the oldest request. A reviewer
holds one item at a time and is never served an item they answered or skipped.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from labelstream.review.gold import GoldOffer
from labelstream.review.items import LeasedItem, QueueItem
from labelstream.review.queue_store import QueueStore, as_text, local_day

SCAN_LIMIT = 5000
"""Items of the seen queue (overlap and skipped items) a claim looks through for one the reviewer may take."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim returns: the item (``None``: nothing for this reviewer) and the leases it reaped."""

    item: LeasedItem | None
    reaped: int
    renewed: bool = False


class Leases(QueueStore):
    """The queue's way in (enqueue, reopen) and its leases (claim, heartbeat, skip, release)."""

    def enqueue(self, items: Sequence[QueueItem], now: float | None = None) -> int:
        """Store items (one round trip); those already known are ignored. How many were new."""
        if not items:
            return 0
        args: list[object] = [time.time() if now is None else now, len(items)]
        for item in items:
            args += [item.id, item.member, repr(item.score), item.needed, item.request, item.stored]
        return int(self._run("enqueue", *args))

    def reopen(self, items: Sequence[QueueItem], now: float | None = None) -> int:
        """Second reviews (items with a ``flagged_answer``): one more reviewer answers; how many were reopened.

        An answered item gets one more answer to collect and goes back in line
        (served to reviewers who have not answered it); an item forgotten
        since is recreated with the flagged answer. Replays, and flagged
        answers withdrawn by an undo, change nothing.
        """
        if not items:
            return 0
        args: list[object] = [time.time() if now is None else now, self.answered_keep_seconds, len(items)]
        for item in items:
            flagged = item.flagged_answer or {}
            args += [
                item.id,
                item.member,
                repr(item.score),
                item.request,
                item.stored,
                flagged["answer_id"],
                flagged["reviewer"],
                flagged["label"],
                self.records.key(item.id),
            ]
        return int(self._run("reopen", *args))

    def claim(
        self, reviewer: str, now: float | None = None, expert: bool = False, gold: GoldOffer | None = None
    ) -> Claim:
        """Lease the next item to ``reviewer`` (or return the one they hold, lease renewed).

        An ``expert`` gets the items reviewers were not sure of (:meth:`unsure`) first. A ``gold`` offer
        (:meth:`~labelstream.review.gold.GoldSet.offer`) comes before both, unless it is no longer valid or the
        waiting count is where a real claim would change what reviewers see of it (``self.counter``).
        """
        now = time.time() if now is None else now
        offer = [] if gold is None else [gold.instance, gold.gold_id, gold.truth, gold.request, gold.content]
        reply = self._run(
            "claim",
            reviewer,
            secrets.token_urlsafe(16),
            now,
            self.lease_seconds,
            SCAN_LIMIT,
            "1" if expert else "0",
            self.counter.exact_below,
            self.counter.step,
            *offer,
        )
        status = as_text(reply[0])
        if status == "empty":
            return Claim(None, int(reply[1]))
        return Claim(LeasedItem.from_reply(reply), int(reply[6]), renewed=status == "held")

    def heartbeat(self, record_id: str, reviewer: str, lease: str, now: float | None = None) -> float:
        """Extend a live lease; its new expiry (epoch seconds). :class:`LeaseConflict` otherwise."""
        now = time.time() if now is None else now
        reply = self._run("heartbeat", record_id, reviewer, lease, now, self.lease_seconds)
        self._raise_conflict(reply)
        return float(reply[1])

    def skip(
        self, record_id: str, reviewer: str, lease: str, note: str | None = None, now: float | None = None
    ) -> None:
        """Give the item back; it is never served to this reviewer again. A note goes with it to the next reviewers."""
        now = time.time() if now is None else now
        reply = self._run("skip", record_id, reviewer, lease, now, note or "", local_day(now))
        self._raise_conflict(reply)

    def skip_notes(self, record_id: str) -> list[dict]:
        """The notes of the reviewers who skipped the item (reviewer, note, at), oldest first."""
        raw = self.item_field(record_id, "skip_notes")
        return orjson.loads(raw) if raw else []

    def release(self, record_id: str, reviewer: str, lease: str, now: float | None = None) -> None:
        """Hand the item back unanswered, now (not when the lease ends); unlike a skip, it may come back to them."""
        reply = self._run("release", record_id, reviewer, lease, time.time() if now is None else now)
        self._raise_conflict(reply)
