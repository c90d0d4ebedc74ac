"""What the review queue holds, read without changing it: counts, a reviewer's day, a review lead's overview."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import orjson

from labelstream.review.queue_store import QueueStore, as_text, local_day

OVERVIEW_LIMIT = 20_000
"""Waiting items of each line the overview reads for its breakdown by reason."""


@dataclass(frozen=True, slots=True)
class QueueCounts:
    waiting: int
    leased: int
    consolidating: int
    outbox: int
    answered: int
    expert: int = 0
    """waiting for an expert (not counted in ``waiting``)"""
    expert_timed_out: int = 0
    """ever sent back to the reviewers because no expert took them within ``review.expert_wait_seconds``"""


@dataclass(frozen=True, slots=True)
class Overview:
    """A review lead's view (:meth:`ReviewQueue.overview`); plain data, JSON-able but for ``counts``."""

    counts: QueueCounts
    waiting_by_reason: dict[str, dict[str, float]]
    """reason -> waiting, skipped (at least once), with_notes (skip notes), oldest_seconds (since requested)"""
    counted: int
    capped: bool
    held: list[dict]
    """id (the queue key), reviewer, held_seconds, gold (the gold item of a gold instance, else ``None``) and shown (the
    id the reviewer sees: a gold instance's shown id, else the id) of every leased item"""
    reviewers: dict[str, dict]
    """name -> answered_today, skipped_today, unsure_today, seconds_per_answer (median, last 100), holding (an id or None)"""


class QueueView(QueueStore):
    """Counts, reviewers' figures and the overview of the queue."""

    def counts(self) -> QueueCounts:
        p = f"{self.prefix}:review"
        pipe = self.client.pipeline(transaction=False)
        for key in (f"{p}:waiting", f"{p}:waiting_seen", f"{p}:leases", f"{p}:consolidating"):
            pipe.zcard(key)
        pipe.llen(self.outbox_key)
        pipe.get(f"{p}:answers_total")
        pipe.zcard(f"{p}:expert")
        pipe.get(f"{p}:expert_timeouts")
        waiting, waiting_seen, leased, consolidating, outbox, answered, expert, timed_out = pipe.execute()
        return QueueCounts(waiting + waiting_seen, leased, consolidating, outbox, int(answered or 0), expert,
                           int(timed_out or 0))

    def reviewer_stats(self, reviewer: str, now: float | None = None) -> tuple[int, float | None]:
        """(answers today, median seconds per answer over their last 100) of one reviewer."""
        p = f"{self.prefix}:review"
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(f"{p}:day:{local_day(time.time() if now is None else now)}", reviewer)
        pipe.lrange(f"{p}:secs:{reviewer}", 0, 99)
        today, seconds = pipe.execute()
        return int(today or 0), (statistics.median(float(s) for s in seconds) if seconds else None)

    def reviewers_today(self, now: float | None = None) -> dict[str, int]:
        """Answers today of every reviewer who answered today."""
        raw = self.client.hgetall(f"{self.prefix}:review:day:{local_day(time.time() if now is None else now)}")
        return {as_text(k): int(v) for k, v in raw.items()}

    def overview(self, now: float | None = None, limit: int = OVERVIEW_LIMIT) -> Overview:
        """What a review lead looks at: waiting items by reason and age, who holds what, each reviewer's day.

        Reads the first ``limit`` waiting items of each line (best-ranked first) for the breakdown by reason;
        the totals are exact.
        """
        now = time.time() if now is None else now
        p = f"{self.prefix}:review"
        members = [as_text(m) for key in (f"{p}:waiting", f"{p}:waiting_seen") for m in self.client.zrange(key, 0, limit - 1)]
        by_reason: dict[str, dict[str, float]] = {}
        for start in range(0, len(members), 1000):
            chunk = members[start:start + 1000]
            pipe = self.client.pipeline(transaction=False)
            for member in chunk:
                pipe.hmget(f"{p}:item:{member.split('|', 1)[1]}", ["request", "skips", "skip_notes"])
            for member, (request, skips, notes) in zip(chunk, pipe.execute(), strict=True):
                reason = str(orjson.loads(request).get("reason") or "unknown") if request else "unknown"
                row = by_reason.setdefault(reason, {"waiting": 0, "skipped": 0, "with_notes": 0, "oldest_seconds": 0.0})
                row["waiting"] += 1
                row["skipped"] += 1 if skips else 0
                row["with_notes"] += 1 if notes else 0
                row["oldest_seconds"] = max(row["oldest_seconds"], now - float(member.split("|", 1)[0]))
        held = []
        for record_id in [as_text(i) for i in self.client.zrange(f"{p}:leases", 0, -1)]:
            holder, leased_at, gold, shown = self.item_fields(record_id, "holder", "leased_at", "gold", "shown")
            if holder is not None:
                held.append({"id": record_id, "reviewer": holder, "held_seconds": now - float(leased_at or now),
                             "gold": gold, "shown": shown or record_id})
        day = local_day(now)
        answered = {as_text(k): int(v) for k, v in self.client.hgetall(f"{p}:day:{day}").items()}
        skipped = {as_text(k): int(v) for k, v in self.client.hgetall(f"{p}:skipday:{day}").items()}
        unsure = {as_text(k): int(v) for k, v in self.client.hgetall(f"{p}:unsureday:{day}").items()}
        reviewers = {}
        for name in sorted({*answered, *skipped, *unsure, *(h["reviewer"] for h in held)}):
            seconds = [float(s) for s in self.client.lrange(f"{p}:secs:{name}", 0, 99)]
            reviewers[name] = {
                "answered_today": answered.get(name, 0), "skipped_today": skipped.get(name, 0),
                "unsure_today": unsure.get(name, 0),
                "seconds_per_answer": statistics.median(seconds) if seconds else None,
                "holding": next((h["id"] for h in held if h["reviewer"] == name), None),
            }
        return Overview(self.counts(), by_reason, len(members), len(members) >= limit, held, reviewers)
