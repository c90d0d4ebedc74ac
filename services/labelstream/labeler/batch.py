"""What the transaction loop moves: the handler it asks, the batch it holds, the offsets it commits.

A :class:`BatchHandler` turns a batch of messages into one :class:`Output`
each; a :class:`Batch` is what one transaction carries (messages, outputs, the
side effects to wait for, where its time went); an :class:`Ahead` is what was
fetched for the next batch while this one committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import Message, TopicPartition


class Output(Protocol):
    """A message to publish."""

    topic: str
    key: bytes
    value: bytes


class RetryLater(Exception):
    """The handler's side effect failed for a while (e.g. Redis is down): abort and redo the batch later."""

    kind = "redis"


class BatchHandler(Protocol):
    """What the loop asks of the service; every method runs on the loop's thread."""

    def route(self, messages: Sequence[Message]) -> list[Output]:
        """One output per message, in order (never raises on bad input)."""

    def prepare(self, outputs: Sequence[Output]) -> Callable[[], None]:
        """Start what must precede the commit; the returned callable waits for it (raises :class:`RetryLater`)."""

    def replace(self, message: Message, output: Output | None, reason: str) -> Output:
        """A dead letter by reference for ``message``, whose ``output`` cannot be published (or routed: ``None``)."""

    def committed(self, messages: Sequence[Message], outputs: Sequence[Output], seconds: float) -> None:
        """The batch is committed (count it now, not before)."""

    def remember(self, messages: Sequence[Message], outputs: Sequence[Output]) -> None:
        """The batch did not commit and will be fetched again: keep its outputs for the redo."""

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """These partitions are no longer ours: drop what was kept for them."""

    def between_batches(self) -> None:
        """Outside any transaction: swap models, relabel, ..."""


Retried = Callable[[str], None]
"""Called with the reason of each batch retry (for the retries metric)."""


@dataclass
class Batch:
    """The messages of one transaction, their outputs, the side effects to wait for and where its time went."""

    messages: list[Message] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    waiters: list[Callable[[], None]] = field(default_factory=list)
    started: float = 0.0
    routing: float = 0.0  # seconds spent routing and producing its records on the loop's thread
    began: float = 0.0  # perf_counter when collecting began (began_at: the same in epoch seconds), for the trace
    began_at: float = 0.0
    ahead: int = 0  # records fetched and routed ahead while the batch before committed
    chunks: list[tuple[int, float]] = field(default_factory=list)  # (records, seconds routing + producing) a fetch

    def add(self, messages: Sequence[Message], outputs: Sequence[Output]) -> None:
        self.messages += messages
        self.outputs += outputs


@dataclass
class Ahead:
    """Messages fetched for the next batch, routed on the helper thread while this one commits
    (``routing`` is ``None`` for a few: they are routed on the loop's thread when their batch begins)."""

    messages: list[Message]
    wanted: int
    routing: Future | None  # -> (outputs, seconds spent routing)

    def outputs(self) -> tuple[list[Output], float]:
        return self.routing.result()


DROPPED = Ahead([], 0, Future())
"""What the loop's routing ahead answers when a rebalance took the batch away."""


def next_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    """The offset to commit per partition: one past the last message of the batch (the getters mapped in C)."""
    last: dict[tuple[str, int], int] = {}
    get = last.get
    topics_partitions = zip(map(Message.topic, messages), map(Message.partition, messages), strict=True)
    for key, offset in zip(topics_partitions, map(Message.offset, messages), strict=True):
        if offset > get(key, -1):
            last[key] = offset
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def first_offsets(messages: Sequence[Message]) -> dict[tuple[str, int], int]:
    """Each partition's first offset in ``messages`` (where a batch that did not commit is fetched again)."""
    first: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic(), message.partition())
        first[key] = min(first.get(key, message.offset()), message.offset())
    return first
