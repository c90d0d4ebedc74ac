"""The review queue's Redis state: its keys, its Lua scripts (loaded once) and an item's fields.

:class:`QueueStore` is what the parts of :class:`~labelstream.review.queue.ReviewQueue`
share: the client, the key prefix, the timings of
:class:`~labelstream.settings.ReviewSettings`, and every script of ``review/lua/``
registered once (each change of an item is one script, so each is atomic).
"""

from __future__ import annotations

import time
from importlib.resources import files

import redis

from labelstream.review.queue_counter import QueueCounter
from labelstream.store.records import RecordStore


class LeaseConflict(Exception):
    """The lease is not the caller's, or has ended (HTTP 409)."""


def _load_script(name: str) -> str:
    lua = files("labelstream.review") / "lua"
    return (lua / "prelude.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


def as_text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def local_day(now: float) -> str:
    """The server's local date: what "today" means in a reviewer's count."""
    return time.strftime("%Y-%m-%d", time.localtime(now))


class QueueStore:
    """The keys, scripts and timings of one deployment's queue (``redis.key_prefix``); safe from many threads.

    Parameters
    ----------
    client
        Redis.
    prefix
        Key prefix (``redis.key_prefix``).
    records
        The labeler's record store: an answer keeps the record joinable there.
    lease_seconds, undo_seconds, done_keep_seconds, answered_keep_seconds, correct_seconds, expert_wait_seconds
        See :class:`~labelstream.settings.ReviewSettings`.
    counter
        The waiting count as reviewers see it: a claim serves a gold item only where it would not show
        (:class:`~labelstream.review.queue_counter.QueueCounter`).
    """

    SCRIPTS = (
        "enqueue",
        "claim",
        "heartbeat",
        "skip",
        "release",
        "answer",
        "undo",
        "reap",
        "adjudicate",
        "finalize",
        "expire",
        "adjudication_timeout",
        "reopen",
        "correct",
        "requeue",
        "reconsolidate",
        "recent",
        "unsure",
        "expert_timeout",
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
        counter: QueueCounter | None = None,
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
        self.counter = counter or QueueCounter()
        self._scripts = {name: client.register_script(_load_script(name)) for name in self.SCRIPTS}
        self.outbox_key = f"{prefix}:review:outbox"
        self.consolidating_key = f"{prefix}:review:consolidating"
        self.reconsolidate_key = f"{prefix}:review:reconsolidate"

    def _run(self, name: str, *args: object) -> object:
        return self._scripts[name](keys=[], args=[self.prefix, *args], client=self.client)

    @staticmethod
    def _raise_conflict(reply: object) -> None:
        if isinstance(reply, list) and reply and as_text(reply[0]) == "conflict":
            raise LeaseConflict(as_text(reply[1]))

    def item_field(self, record_id: str, field: str) -> str | None:
        value = self.client.hget(f"{self.prefix}:review:item:{record_id}", field)
        return None if value is None else as_text(value)

    def item_fields(self, record_id: str, *fields: str) -> list[str | None]:
        values = self.client.hmget(f"{self.prefix}:review:item:{record_id}", list(fields))
        return [None if value is None else as_text(value) for value in values]

    def state(self, record_id: str) -> str | None:
        """An item's state (``None``: unknown or forgotten)."""
        return self.item_field(record_id, "state")
