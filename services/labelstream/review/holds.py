"""Reviewer holds: a reviewer whose gold accuracy is, with 95 % confidence, below a floor gets no more items.

With ``review.gold_hold_below`` above 0, a reviewer is *held* when, over the
last :data:`~labelstream.review.gold.RECENT_DAYS` days, they have at least
``review.gold_hold_min_answers`` final gold answers and the high end of their
accuracy's 95 % Wilson interval is below the floor: not one bad afternoon on
three gold items, but answers that rule out the floor. A held reviewer's claims
are refused (403, in one line: their figures, the floor, ask the review lead);
the item they hold, if any, can still be answered. Toloka and Appen bar
workers who fail control tasks the same way; Ground Truth leaves it to the
lead.

A hold ends by itself once the window forgets enough of the answers behind it
(fewer than the minimum left, or an interval that reaches the floor again), or
when the lead clears it (``POST /api/v1/admin/gold/reviewers/{name}/clear``,
``labelstream review gold clear NAME``): clearing exempts the reviewer for
:data:`CLEAR_SECONDS`, the time the window takes to forget every answer given
before it, so the next hold can only come from answers given after.

Answers a held reviewer gave before the hold stand: they were published as
corrections when given. The learner hears of each hold as it takes effect:
the first claim a hold refuses, and the first claim granted after it, publish
a correction of kind ``hold`` (``held`` true, then false) through the outbox
(:meth:`ReviewerHolds.tell_learner`), so the policy's gold bound drops a held
reviewer's gold answers (docs/contract.md section 5, "Holds").

Keys (p = ``redis.key_prefix``): ``p:review:gold:cleared`` (reviewer -> the
epoch second their exemption ends); ``p:review:gold:held`` (the reviewers the
learner was last told are held).

>>> hold = Hold("bo", answers=12, right=4, low=0.14, high=0.61, floor=0.8)
>>> hold.message()
'held from new items: your gold accuracy over the last 7 days is 33% of 12 (95 % interval 14%-61%), below the 80% this service asks (review.gold_hold_below); ask your review lead to look at your answers and clear you'
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from labelstream.core.reviewer_gold import ReviewerGold, held_by
from labelstream.core.schemas import Correction
from labelstream.review.gold import RECENT_DAYS, GoldSet
from labelstream.review.queue_store import as_text

CLEAR_SECONDS = RECENT_DAYS * 86400
"""How long a lead's clearance lasts: the recent window then holds only answers given after it."""

# KEYS: the set of reviewers the learner was told are held, the outbox. ARGV: reviewer, 1 (held) or 0, the entry.
# The entry goes out only when the state changes, in the same script: a hold is told once, and never lost.
_TELL = """
local changed
if ARGV[2] == '1' then changed = redis.call('SADD', KEYS[1], ARGV[1]) else changed = redis.call('SREM', KEYS[1], ARGV[1]) end
if changed == 1 then redis.call('RPUSH', KEYS[2], ARGV[3]) end
return changed
"""


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a reviewer is held: their recent gold figures and the floor they fall short of."""

    reviewer: str
    answers: int
    right: int
    low: float
    high: float
    floor: float

    def message(self) -> str:
        """The one line a refused claim answers with."""
        return (f"held from new items: your gold accuracy over the last {RECENT_DAYS} days is "
                f"{self.right / self.answers:.0%} of {self.answers} (95 % interval {self.low:.0%}-{self.high:.0%}), "
                f"below the {self.floor:.0%} this service asks (review.gold_hold_below); "
                "ask your review lead to look at your answers and clear you")


class ReviewerHolds:
    """Which reviewers are held (:func:`held_by` on their recent gold figures) and the lead's clearances."""

    def __init__(self, client: redis.Redis, gold: GoldSet, floor: float, min_answers: int) -> None:
        self.client = client
        self.gold = gold
        self.floor = floor
        self.min_answers = min_answers
        self.cleared_key = f"{gold.prefix}:review:gold:cleared"
        self.told_key = f"{gold.prefix}:review:gold:held"
        self.outbox_key = f"{gold.prefix}:review:outbox"
        self._tell = client.register_script(_TELL)

    @property
    def on(self) -> bool:
        return self.floor > 0

    def check(self, reviewer: str, now: float | None = None) -> Hold | None:
        """The reviewer's hold now, or ``None`` (off, cleared, or figures that do not rule out the floor)."""
        if not self.on:
            return None
        now = time.time() if now is None else now
        if self.cleared_until(reviewer, now) is not None:
            return None
        figures = self.gold.recent_for(reviewer, RECENT_DAYS, now)
        if not held_by(figures, self.floor, self.min_answers):
            return None
        low, high = figures.interval  # type: ignore[union-attr,misc]
        return Hold(reviewer, figures.answers, figures.right, low, high, self.floor)  # type: ignore[union-attr]

    def tell_learner(self, reviewer: str, held: bool) -> bool:
        """A claim found ``reviewer`` held (or not): if the learner was last told otherwise, a ``hold`` correction
        goes into the outbox (published once, in order, as any answer); whether one did.

        Called on every claim while holds are on: a hold takes effect on the stream when it refuses a claim, and
        ends when a claim is granted again (cleared, or the window forgot the answers behind it)."""
        entry = Correction(id=f"hold:{reviewer}", label="held" if held else "released", reviewer=reviewer,
                           kind="hold", held=held, answer_id=f"hold:{reviewer}#{time.time_ns()}")
        return bool(self._tell(keys=[self.told_key, self.outbox_key], args=[reviewer, int(held), entry.wire_json()]))

    def told_held(self) -> set[str]:
        """The reviewers the learner was last told are held."""
        return {as_text(name) for name in self.client.smembers(self.told_key)}

    def held(self, recent: dict[str, ReviewerGold], now: float | None = None) -> set[str]:
        """Of the reviewers whose recent (:data:`RECENT_DAYS`) figures are given, the ones held now."""
        if not self.on:
            return set()
        now = time.time() if now is None else now
        cleared = self.cleared(now)
        return {name for name, figures in recent.items()
                if name not in cleared and held_by(figures, self.floor, self.min_answers)}

    def clear(self, reviewer: str, now: float | None = None) -> float:
        """The lead's clearance: no hold for :data:`CLEAR_SECONDS`; returns when it ends (epoch seconds)."""
        until = (time.time() if now is None else now) + CLEAR_SECONDS
        self.client.hset(self.cleared_key, reviewer, until)
        return until

    def cleared_until(self, reviewer: str, now: float | None = None) -> float | None:
        """When the reviewer's clearance ends, if it has not yet."""
        raw = self.client.hget(self.cleared_key, reviewer)
        until = None if raw is None else float(raw)
        return until if until is not None and until > (time.time() if now is None else now) else None

    def cleared(self, now: float | None = None) -> dict[str, float]:
        """Every clearance still running: reviewer -> when it ends (ended ones are deleted as they are met)."""
        now = time.time() if now is None else now
        running: dict[str, float] = {}
        ended: list[str] = []
        for name, raw in self.client.hgetall(self.cleared_key).items():
            if float(raw) > now:
                running[as_text(name)] = float(raw)
            else:
                ended.append(as_text(name))
        if ended:
            self.client.hdel(self.cleared_key, *ended)
        return running
