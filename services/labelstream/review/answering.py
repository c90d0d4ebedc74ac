"""A reviewer's answers: accept one under a lease, undo the last, correct a recent one, page the history.

An answer leaves the lease, enters the outbox of corrections and marks the
item in one step, so no crash can separate "answer accepted" from "item
marked answered" or from "correction to publish"
(:mod:`~labelstream.review.outbox` publishes the outbox).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import orjson

from labelstream.review.items import LeasedItem
from labelstream.review.queue_store import QueueStore, as_text, local_day

HISTORY_MAX = 2000
"""Answers of a reviewer's history kept (the newest; for 3 days after their last answer): RECENT_MAX in prelude.lua."""


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


class Answering(QueueStore):
    """Answers, undo, corrections and the history of each reviewer."""

    def answer(
        self, record_id: str, reviewer: str, lease: str, label: str, note: str | None = None, now: float | None = None
    ) -> Answered:
        """Accept an answer under a live lease (the label is checked by the caller)."""
        now = time.time() if now is None else now
        reply = self._run(
            "answer", record_id, reviewer, lease, label, note or "", now, local_day(now), self.undo_seconds,
            self.done_keep_seconds, self.records.key(record_id), self.answered_keep_seconds,
        )
        self._raise_conflict(reply)
        return Answered(as_text(reply[1]), as_text(reply[2]), float(reply[3]), repeated=as_text(reply[0]) == "repeat")

    def undo(self, reviewer: str, now: float | None = None) -> Undone:
        """Withdraw the reviewer's last answer and lease its item to them again."""
        now = time.time() if now is None else now
        reply = self._run("undo", reviewer, secrets.token_urlsafe(16), now, self.lease_seconds, local_day(now))
        self._raise_conflict(reply)
        return Undone(as_text(reply[6]), LeasedItem.from_reply(reply), as_text(reply[8]), as_text(reply[9]))

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
        status = as_text(reply[0])
        return Corrected(as_text(reply[1]), as_text(reply[2]), as_text(reply[3]), changed=status != "same",
                         repeated=status == "repeat", state=as_text(reply[4]), overlap=as_text(reply[5]) == "overlap")

    def recent(self, reviewer: str, limit: int = 50) -> list[dict]:
        """The reviewer's last answers, newest first: id, answer_id, label, at (first answered), overlap, was, ..."""
        return self.history(reviewer, limit=limit)[0]

    def history(self, reviewer: str, after: str | None = None, limit: int = 50) -> tuple[list[dict], bool]:
        """A page of the reviewer's answers (newest first) after the one to record ``after``; and whether more follow.

        Ids are as shown (:func:`as_shown`). The last :data:`HISTORY_MAX` answers are kept. :class:`LeaseConflict` when ``after`` is no longer in the
        history (its answer was undone, or is older than the kept ones).
        """
        reply = self._run("recent", reviewer, after or "", limit)
        self._raise_conflict(reply)
        return [as_shown(orjson.loads(raw)) for raw in reply[2:]], as_text(reply[1]) == "1"


def as_shown(entry: dict) -> dict:
    """A history entry as the reviewer is shown it: a gold instance's answer under its shown id, never its key.

    >>> as_shown({"id": "9f3c", "answer_id": "9f3c#1", "shown": "web-12", "label": "cat"})
    {'id': 'web-12', 'answer_id': 'web-12#1', 'label': 'cat'}
    """
    shown = entry.pop("shown", None)
    if shown:
        entry["answer_id"] = shown + entry["answer_id"][len(entry["id"]):]
        entry["id"] = shown
    return entry
