"""The review work queue in Redis: ranked items, leases, answers, skips and undo.

Every change of an item is one Lua script (``review/lua/*.lua``), so each is
atomic: two reviewers never hold the same item (a claim reads and leases in one
step); an answer leaves the lease, enters the outbox of corrections and marks
the item in one step, so no crash can separate "answer accepted" from "item
marked answered" or from "correction to publish" (:mod:`~labelstream.review.outbox`
publishes the outbox).

Order: highest ``priority`` first, then the oldest request. A reviewer holds one
item at a time and is never served an item they answered or skipped. An overlap
item is served to ``needed`` different reviewers, one after the other; when the
last answer can no longer be undone it is consolidated
(:mod:`~labelstream.review.consolidation`).

A reviewer may correct a recent answer (:meth:`ReviewQueue.correct`); on an
overlap item the new answer replaces their vote, and a consensus already
published is recomputed (superseded if its label changes).

Item states: ``waiting`` -> ``leased`` -> ``done`` (one answer needed), or back to
``waiting`` (overlap: more answers needed; skipped; lease expired), or
``consolidating`` (overlap: all answers in) -> ``done`` or ``waiting`` (adjudication; back to
``consolidating`` with the answers it has if no adjudicator answers within
``review.adjudication_timeout_seconds``).
An admin may set ``expired``. Done and expired items are remembered for
``review.done_keep_seconds``.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files

import orjson
import redis

from labelstream.review.items import LeasedItem, QueueItem
from labelstream.settings import Settings
from labelstream.store.records import RecordStore

OVERVIEW_LIMIT = 20_000
"""Waiting items of each line the overview reads for its breakdown by reason."""
SCAN_LIMIT = 5000
"""Items of the seen queue (overlap and skipped items) a claim looks through for one the reviewer may take."""
HISTORY_MAX = 2000
"""Answers of a reviewer's history kept (the newest; for 3 days after their last answer): RECENT_MAX in prelude.lua."""


class LeaseConflict(Exception):
    """The lease is not the caller's, or has ended (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim returns: the item (``None``: nothing for this reviewer) and the leases it reaped."""

    item: LeasedItem | None
    reaped: int
    renewed: bool = False


@dataclass(frozen=True, slots=True)
class Answered:
    """An accepted answer: its id, the item's new state, and the seconds since the claim."""

    answer_id: str
    state: str
    seconds: float
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Undone:
    """An undone answer: the retraction's answer id and the item, back under a new lease."""

    retraction_id: str
    item: LeasedItem
    label: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Corrected:
    """A corrected answer: the new answer's id, the retraction's (empty: nothing changed), the record id, its state."""

    answer_id: str
    retraction_id: str
    id: str
    changed: bool
    repeated: bool = False
    state: str = ""
    """the item's state: ``done``, or for an overlap item still collecting answers ``waiting``, ``leased``, ..."""
    overlap: bool = False


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
    """id, reviewer, held_seconds of every leased item"""
    reviewers: dict[str, dict]
    """name -> answered_today, skipped_today, unsure_today, seconds_per_answer (median, last 100), holding (an id or None)"""


def _load_script(name: str) -> str:
    lua = files("labelstream.review") / "lua"
    return (lua / "prelude.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ReviewQueue:
    """The queue of one deployment (``redis.key_prefix``); all methods are safe from many threads and processes.

    Parameters
    ----------
    client
        Redis.
    prefix
        Key prefix (``redis.key_prefix``).
    records
        The labeler's record store: an answer keeps the record joinable there.
    lease_seconds, undo_seconds, done_keep_seconds, answered_keep_seconds
        See :class:`~labelstream.settings.ReviewSettings`.
    """

    SCRIPTS = (
        "enqueue", "claim", "heartbeat", "skip", "release", "answer", "undo", "reap", "adjudicate", "finalize", "expire",
        "adjudication_timeout", "reopen", "correct", "requeue", "reconsolidate", "recent", "unsure", "expert_timeout",
    )

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        records: RecordStore,
        lease_seconds: float = 120.0,
        undo_seconds: float = 30.0,
        done_keep_seconds: int = 7 * 24 * 3600,
        answered_keep_seconds: int = 7 * 24 * 3600,
        correct_seconds: float = 900.0,
        expert_wait_seconds: float = 3600.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.records = records
        self.lease_seconds = lease_seconds
        self.undo_seconds = undo_seconds
        self.done_keep_seconds = done_keep_seconds
        self.answered_keep_seconds = answered_keep_seconds
        self.correct_seconds = correct_seconds
        self.expert_wait_seconds = expert_wait_seconds
        self._scripts = {name: client.register_script(_load_script(name)) for name in self.SCRIPTS}
        self.outbox_key = f"{prefix}:review:outbox"
        self.consolidating_key = f"{prefix}:review:consolidating"
        self.reconsolidate_key = f"{prefix}:review:reconsolidate"

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> ReviewQueue:
        review = settings.review
        return cls(
            client,
            settings.redis.key_prefix,
            RecordStore.from_settings(client, settings),
            review.lease_seconds,
            review.undo_seconds,
            review.done_keep_seconds,
            review.answered_keep_seconds,
            review.correct_seconds,
            review.expert_wait_seconds,
        )

    def _run(self, name: str, *args: object) -> object:
        return self._scripts[name](keys=[], args=[self.prefix, *args], client=self.client)

    # -- items in ------------------------------------------------------------------------------

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
                item.id, item.member, repr(item.score), item.request, item.stored,
                flagged["answer_id"], flagged["reviewer"], flagged["label"], self.records.key(item.id),
            ]
        return int(self._run("reopen", *args))

    # -- a reviewer's calls ----------------------------------------------------------------------

    def claim(self, reviewer: str, now: float | None = None, expert: bool = False) -> Claim:
        """Lease the next item to ``reviewer`` (or return the one they hold, lease renewed).

        An ``expert`` gets the items reviewers were not sure of (:meth:`unsure`) first.
        """
        now = time.time() if now is None else now
        reply = self._run("claim", reviewer, secrets.token_urlsafe(16), now, self.lease_seconds, SCAN_LIMIT,
                          "1" if expert else "0")
        status = _text(reply[0])
        if status == "empty":
            return Claim(None, int(reply[1]))
        return Claim(LeasedItem.from_reply(reply), int(reply[6]), renewed=status == "held")

    def heartbeat(self, record_id: str, reviewer: str, lease: str, now: float | None = None) -> float:
        """Extend a live lease; its new expiry (epoch seconds). :class:`LeaseConflict` otherwise."""
        now = time.time() if now is None else now
        reply = self._run("heartbeat", record_id, reviewer, lease, now, self.lease_seconds)
        self._raise_conflict(reply)
        return float(reply[1])

    def skip(self, record_id: str, reviewer: str, lease: str, note: str | None = None, now: float | None = None) -> None:
        """Give the item back; it is never served to this reviewer again. A note goes with it to the next reviewers."""
        now = time.time() if now is None else now
        reply = self._run("skip", record_id, reviewer, lease, now, note or "", _day(now))
        self._raise_conflict(reply)

    def unsure(self, record_id: str, reviewer: str, lease: str, note: str | None = None, now: float | None = None) -> None:
        """The reviewer is not sure: the item goes to the experts' queue (never back to them), with the note."""
        now = time.time() if now is None else now
        reply = self._run("unsure", record_id, reviewer, lease, now, note or "", _day(now))
        self._raise_conflict(reply)

    def time_out_experts(self, now: float | None = None, limit: int = 100) -> int:
        """Items no expert took within ``expert_wait_seconds`` (0: never): back to the reviewers who have not seen
        them, notes kept, flagged ``no_expert``; an item an expert holds is left to them. How many went back."""
        if self.expert_wait_seconds <= 0:
            return 0
        return int(self._run("expert_timeout", time.time() if now is None else now, self.expert_wait_seconds, limit))

    def skip_notes(self, record_id: str) -> list[dict]:
        """The notes of the reviewers who skipped the item (reviewer, note, at), oldest first."""
        raw = self.item_field(record_id, "skip_notes")
        return orjson.loads(raw) if raw else []

    def release(self, record_id: str, reviewer: str, lease: str, now: float | None = None) -> None:
        """Hand the item back unanswered, now (not when the lease ends); unlike a skip, it may come back to them."""
        reply = self._run("release", record_id, reviewer, lease, time.time() if now is None else now)
        self._raise_conflict(reply)

    def answer(
        self, record_id: str, reviewer: str, lease: str, label: str, note: str | None = None, now: float | None = None
    ) -> Answered:
        """Accept an answer under a live lease (the label is checked by the caller)."""
        now = time.time() if now is None else now
        reply = self._run(
            "answer", record_id, reviewer, lease, label, note or "", now, _day(now), self.undo_seconds,
            self.done_keep_seconds, self.records.key(record_id), self.answered_keep_seconds,
        )
        self._raise_conflict(reply)
        return Answered(_text(reply[1]), _text(reply[2]), float(reply[3]), repeated=_text(reply[0]) == "repeat")

    def undo(self, reviewer: str, now: float | None = None) -> Undone:
        """Withdraw the reviewer's last answer and lease its item to them again."""
        now = time.time() if now is None else now
        reply = self._run("undo", reviewer, secrets.token_urlsafe(16), now, self.lease_seconds, _day(now))
        self._raise_conflict(reply)
        return Undone(_text(reply[6]), LeasedItem.from_reply(reply), _text(reply[7]), _text(reply[8]))

    def correct(
        self, reviewer: str, answer_id: str, label: str, note: str | None = None, now: float | None = None
    ) -> Corrected:
        """Replace one of the reviewer's recent answers (within ``correct_seconds``): retraction + new answer.

        On an overlap item the new answer replaces the reviewer's vote; a consensus already published is
        recomputed by the leader (:meth:`ready_to_reconsolidate`, :meth:`reconsolidate`).
        """
        now = time.time() if now is None else now
        record_id = answer_id.rpartition("#")[0]
        reply = self._run(
            "correct", reviewer, answer_id, label, note or "", now, self.correct_seconds, self.records.key(record_id),
            self.answered_keep_seconds,
        )
        self._raise_conflict(reply)
        status = _text(reply[0])
        return Corrected(_text(reply[1]), _text(reply[2]), _text(reply[3]), changed=status != "same",
                         repeated=status == "repeat", state=_text(reply[4]), overlap=_text(reply[5]) == "overlap")

    def recent(self, reviewer: str, limit: int = 50) -> list[dict]:
        """The reviewer's last answers, newest first: id, answer_id, label, at (first answered), overlap, was, ..."""
        return self.history(reviewer, limit=limit)[0]

    def history(self, reviewer: str, after: str | None = None, limit: int = 50) -> tuple[list[dict], bool]:
        """A page of the reviewer's answers (newest first) after the one to record ``after``; and whether more follow.

        The last :data:`HISTORY_MAX` answers are kept. :class:`LeaseConflict` when ``after`` is no longer in the
        history (its answer was undone, or is older than the kept ones).
        """
        reply = self._run("recent", reviewer, after or "", limit)
        self._raise_conflict(reply)
        return [orjson.loads(raw) for raw in reply[2:]], _text(reply[1]) == "1"

    @staticmethod
    def _raise_conflict(reply: object) -> None:
        if isinstance(reply, list) and reply and _text(reply[0]) == "conflict":
            raise LeaseConflict(_text(reply[1]))

    # -- housekeeping --------------------------------------------------------------------------

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
        for record_id in (_text(i) for i in self.client.zrange(f"{self.prefix}:review:leases", 0, -1)):
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
                stamp, record_id = _text(member).split("|", 1)
                if older_than is None or float(stamp) < older_than:
                    ids.append(record_id)
        return ids

    # -- overlap items ---------------------------------------------------------------------------

    def ready_to_consolidate(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Overlap items with all their answers, none of which can still be undone."""
        now = time.time() if now is None else now
        return [_text(m) for m in self.client.zrangebyscore(self.consolidating_key, "-inf", now, start=0, num=limit)]

    def answers(self, record_id: str) -> list[tuple[str, str]]:
        """(reviewer, label) of an item's answers, in the order they were given."""
        raw = self.client.hgetall(f"{self.prefix}:review:item:{record_id}:answers")
        answers = [(orjson.loads(value), _text(reviewer)) for reviewer, value in raw.items()]
        return [(reviewer, answer["label"]) for answer, reviewer in sorted(answers, key=lambda pair: pair[0]["n"])]

    def item_field(self, record_id: str, field: str) -> str | None:
        value = self.client.hget(f"{self.prefix}:review:item:{record_id}", field)
        return None if value is None else _text(value)

    def item_fields(self, record_id: str, *fields: str) -> list[str | None]:
        values = self.client.hmget(f"{self.prefix}:review:item:{record_id}", list(fields))
        return [None if value is None else _text(value) for value in values]

    def adjudicate(self, record_id: str, deadline: float = 0.0) -> bool:
        """Send a consolidating item to one more reviewer (until ``deadline``, epoch seconds; 0: no deadline)."""
        return bool(self._run("adjudicate", record_id, repr(deadline)))

    def time_out_adjudications(self, now: float | None = None, limit: int = 100) -> int:
        """Items past their adjudication deadline, not leased: back to consolidation with the answers they have."""
        return int(self._run("adjudication_timeout", time.time() if now is None else now, limit))

    def finalize(
        self, record_id: str, correction: dict, n_answers: int, state_key: str, state_json: bytes, rev: str | None = None
    ) -> str | None:
        """Publish a consensus (into the outbox) with the consensus state; its answer id, ``None`` if stale.

        ``rev``: the item's ``rev`` field read before its answers (a corrected vote changes it).
        """
        reply = self._run(
            "finalize", record_id, orjson.dumps(correction), n_answers, self.done_keep_seconds, state_key, state_json,
            self.records.key(record_id), self.answered_keep_seconds, rev or "",
        )
        return _text(reply[1]) if _text(reply[0]) == "ok" else None

    def ready_to_reconsolidate(self, limit: int = 100) -> list[str]:
        """Consolidated overlap items with a vote corrected since: their consensus is to be recomputed."""
        return [_text(m) for m in self.client.zrange(self.reconsolidate_key, 0, limit - 1)]

    def reconsolidate(self, record_id: str, rev: str | None, correction: dict | None, now: float | None = None) -> str:
        """Publish a recomputed consensus (``None``: its label did not change, nothing to publish).

        ``published`` (a retraction of the old consensus, then the new one), ``unchanged``, or ``stale``
        (a vote changed again since ``rev`` was read: the item stays listed).
        """
        reply = self._run(
            "reconsolidate", record_id, rev or "", orjson.dumps(correction) if correction else "",
            time.time() if now is None else now, self.records.key(record_id), self.answered_keep_seconds,
        )
        return _text(reply[0])

    # -- reading ---------------------------------------------------------------------------------

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
        pipe.hget(f"{p}:day:{_day(time.time() if now is None else now)}", reviewer)
        pipe.lrange(f"{p}:secs:{reviewer}", 0, 99)
        today, seconds = pipe.execute()
        return int(today or 0), (statistics.median(float(s) for s in seconds) if seconds else None)

    def reviewers_today(self, now: float | None = None) -> dict[str, int]:
        """Answers today of every reviewer who answered today."""
        raw = self.client.hgetall(f"{self.prefix}:review:day:{_day(time.time() if now is None else now)}")
        return {_text(k): int(v) for k, v in raw.items()}

    def overview(self, now: float | None = None, limit: int = OVERVIEW_LIMIT) -> Overview:
        """What a review lead looks at: waiting items by reason and age, who holds what, each reviewer's day.

        Reads the first ``limit`` waiting items of each line (best-ranked first) for the breakdown by reason;
        the totals are exact.
        """
        now = time.time() if now is None else now
        p = f"{self.prefix}:review"
        members = [_text(m) for key in (f"{p}:waiting", f"{p}:waiting_seen") for m in self.client.zrange(key, 0, limit - 1)]
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
        for record_id in [_text(i) for i in self.client.zrange(f"{p}:leases", 0, -1)]:
            holder, leased_at = self.item_fields(record_id, "holder", "leased_at")
            if holder is not None:
                held.append({"id": record_id, "reviewer": holder, "held_seconds": now - float(leased_at or now)})
        day = _day(now)
        answered = {_text(k): int(v) for k, v in self.client.hgetall(f"{p}:day:{day}").items()}
        skipped = {_text(k): int(v) for k, v in self.client.hgetall(f"{p}:skipday:{day}").items()}
        unsure = {_text(k): int(v) for k, v in self.client.hgetall(f"{p}:unsureday:{day}").items()}
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

    def state(self, record_id: str) -> str | None:
        """An item's state (``None``: unknown or forgotten)."""
        return self.item_field(record_id, "state")


def _day(now: float) -> str:
    """The server's local date: what "today" means in a reviewer's count."""
    return time.strftime("%Y-%m-%d", time.localtime(now))
