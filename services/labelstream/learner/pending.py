"""What the learner holds since its last published version, and the Redis calls that wait out a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis

log = logging.getLogger("labelstream.learner")


class Pending:
    """The learner's work since its last model version: offsets learned, events to ack, sends to confirm.

    A version holds what is here when its state is taken (``labelstream.learner``'s
    exactly-once rule); the agents and the publisher share this one object.

    Examples
    --------
    >>> pending = Pending({"corrections:0": 7})
    >>> pending.learned("corrections:0", 7), pending.learned("corrections:0", 6)
    (False, True)
    >>> pending.advance("corrections:0", 7); pending.offsets
    {'corrections:0': 8}
    """

    def __init__(self, offsets: dict[str, int] | None = None, corrections_applied: int = 0) -> None:
        self.offsets: dict[str, int] = dict(offsets or {})  # per topic-partition, the next offset to learn
        self.corrections_applied = corrections_applied
        self.unpublished: list[float] = []  # correction timestamps learned since the last version
        self.self_taught = 0  # auto-labels learned since the last version (self-training)
        self.acks: list[tuple[Any, Any]] = []  # (stream, event) handled since the last version
        # Deliveries of the human labels and dead letters sent since the last version (VersionPublisher.delivered).
        self.sends: list[Awaitable[Any]] = []
        self.deliveries: list[Any] = []  # second-review requests sent, confirmed before the next snapshot
        self.publishing = False
        self.challenger_won = False
        # Clear from taking a snapshot's state to storing it (or freezing a copy): the agents wait (snapshot_stored).
        self.stored = asyncio.Event()
        self.stored.set()

    def learned(self, tp: str, offset: int) -> bool:
        """Whether the latest state already holds the message at ``offset`` of ``tp`` (a replay)."""
        return offset < self.offsets.get(tp, 0)

    def advance(self, tp: str, offset: int) -> None:
        """The message at ``offset`` of ``tp`` is handled: a snapshot taken now holds it."""
        self.offsets[tp] = offset + 1

    def has_learned(self) -> bool:
        """Whether anything was learned since the last version (a new version is worth publishing)."""
        return bool(self.unpublished or self.self_taught)

    async def snapshot_stored(self) -> None:
        """Wait while a snapshot is being taken; the last await before an agent learns.

        A snapshot copies the offsets first and pickles the model when it stores it, after
        awaiting the deliveries: what an agent learned in between was in the model and not
        in the offsets, so a crash before the next version replayed it (learned twice).
        Set, it returns without yielding (the caller's next steps run before any other task).
        Woken, it looks again: another snapshot may have begun before this task ran.
        """
        while not self.stored.is_set():
            await self.stored.wait()


class RedisRetry:
    """Redis calls that wait out a Redis restart; ``last_error`` says what failed last (``/readyz``)."""

    def __init__(self, pause_seconds: float = 0.5) -> None:
        self.pause_seconds = pause_seconds
        self.last_error = ""

    async def call(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, retried every ``pause_seconds`` while Redis fails."""
        while True:
            try:
                result = call(*args)
            except redis.RedisError as exc:
                self.failed(exc)
                await self.pause()
                continue
            self.last_error = ""
            return result

    async def pause(self) -> None:
        """Wait before the next try."""
        await asyncio.sleep(self.pause_seconds)

    def failed(self, exc: redis.RedisError, what: str = "retrying") -> None:
        """Note a Redis failure (``/readyz`` shows it until a call succeeds)."""
        self.last_error = f"redis: {exc}"
        log.warning("redis unavailable, %s: %s", what, exc)
