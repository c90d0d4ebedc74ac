"""The labeler's group consumer: fetch without waiting needlessly, rewind, follow rebalances, rejoin when fenced.

:class:`GroupConsumer` owns the Kafka consumer of one labeler instance and its
assignment. A rebalance that takes partitions away aborts the open transaction
at once (their next owner must not wait on it) and marks what the loop holds
as ``dropped``: not ours to commit. A fatal consumer error (librdkafka fences a
static member whose session expired, issue 3437) is survived by joining again
with a new consumer, which resumes at the committed offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from labelstream.kafka.client_errors import describe, describe_exception
from labelstream.kafka.config import consumer_config
from labelstream.labeler.batch import BatchHandler, Retried, first_offsets
from labelstream.labeler.health import LoopState
from labelstream.labeler.transactions import Transactions
from labelstream.log_repeats import client_logger
from labelstream.settings import Settings

log = logging.getLogger("labelstream.labeler.consumer")
# librdkafka's own lines of the labeler's consumers (runs of like lines held back: log_repeats.librdkafka_key)
KAFKA_LOGGER = "labelstream.labeler.kafka"


class GroupConsumer:
    """The consumer of one labeler instance: its fetches, its assignment, its rebalances (see the module docstring)."""

    def __init__(
        self, settings: Settings, instance: str, transactions: Transactions, handler: BatchHandler, state: LoopState, on_retry: Retried
    ) -> None:
        self.settings = settings
        self.instance = instance
        self.transactions = transactions
        self.handler = handler
        self.state = state
        self.on_retry = on_retry
        self.assignment: list[TopicPartition] = []
        self.dropped = False  # partitions were revoked: what the loop holds is not ours to commit
        self._last_error = 0.0
        self._metadata: object | None = None  # the group metadata of the current assignment (group_metadata)
        self.consumer = self._new_consumer()

    def subscribe(self) -> None:
        """Join the group on the records topic."""
        self.consumer.subscribe([self.settings.topics.records], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def close(self) -> None:
        """Leave the group."""
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("closing the consumer: %s", exc)

    def group_metadata(self) -> object:
        """What ``send_offsets_to_transaction`` needs of the group: its member id and generation.

        Read from the client once per assignment, not once per transaction: the call holds the GIL for ~30 us
        of CPU and, on a busy client, waits for librdkafka's group lock (a mean of ~0.5 ms, p99 4-8 ms a call
        at 1k records/s on a loaded 2-core machine, 16 % of the labeler's GIL time there). It changes only
        when the group rebalances, and every rebalance passes through :meth:`_on_revoke` / :meth:`_on_assign`,
        which forget it; so does a new consumer and a failed batch (:meth:`rewind`). A stale one could only be
        refused by the broker (an old generation is fenced), never accepted: the batch would be redone.
        """
        if self._metadata is None:
            self._metadata = self.consumer.consumer_group_metadata()
        return self._metadata

    def fetch(self, limit: int, wait: float) -> list[Message]:
        """What is queued, up to ``limit``; wait up to ``wait`` only when nothing is.

        ``consume(n, timeout)`` alone waits the whole timeout unless ``n`` messages
        are there, which at 1k records/s adds its timeout to every record's latency.
        """
        try:
            messages = self.consumer.consume(limit, 0)
            if not messages and wait > 0:
                first = self.consumer.poll(wait)
                if first is None:
                    return []
                messages = [first, *self.consumer.consume(limit - 1, 0)] if limit > 1 else [first]
            errors = list(map(Message.error, messages))
            if errors.count(None) == len(errors):  # the common case, checked in C
                return messages
            good = []
            for message in messages:
                error = message.error()
                if error is None:
                    good.append(message)
                elif error.fatal() or error.code() == KafkaError._FATAL:
                    self.rejoin(describe(error))
                    return []
                else:
                    self._log_error(error)
            return good
        # an exception the client left pending (labelstream.kafka.client_errors): as dead as after a fatal error
        except (KafkaException, SystemError) as exc:
            self.rejoin(f"{type(exc).__name__}: {describe_exception(exc)} (from {exc.__cause__!r})")
            return []

    def rewind(self, messages: Sequence[Message]) -> None:
        """Seek each partition of ``messages`` back to its first offset in them (the committed one); no broker needed.
        The group metadata is read afresh after it (a batch failed: perhaps the group moved on)."""
        self._metadata = None
        for (topic, partition), offset in first_offsets(messages).items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # no longer assigned: its new owner starts from the committed offset
                log.debug("rewind %s[%d]: %s", topic, partition, exc)

    def drop(self, messages: Sequence[Message]) -> None:
        """Give up what was fetched across a rebalance (not committed; rewound where still ours)."""
        self.dropped = False
        self.transactions.abort()
        self.rewind(messages)

    def _log_error(self, error: KafkaError) -> None:
        now = time.monotonic()
        if now - self._last_error > 30:  # an outage reports every few seconds; say it twice a minute
            log.warning("consumer: %s", describe(error))
            self._last_error = now

    def rejoin(self, error: str) -> None:
        """Rejoin with a new consumer after a fatal consumer error; what is in hand is dropped, not committed.

        librdkafka fences a static member whose session expired (e.g. the broker
        was down longer than ``session.timeout.ms``) and the consumer stays dead
        (librdkafka issue 3437). Nothing was committed through it since, so the
        new consumer resumes at the committed offsets: no loss, no duplicate.
        """
        self.state.failed(f"consumer: {error}")
        self.on_retry("consumer")
        log.warning("fatal consumer error, joining the group again with a new consumer: %s", error)
        if self.transactions.in_transaction:
            self.dropped = True
            self.transactions.abort()
        self.handler.forget(self.assignment)
        self.assignment = []
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("closing the failed consumer: %s", exc)
        self._metadata = None
        self.consumer = self._new_consumer()
        self.subscribe()

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._metadata = None  # a new generation
        self.assignment = list(partitions)
        log.info("assigned %s", sorted(p.partition for p in partitions))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions leave: abort the open transaction now (their next owner must not wait on it)."""
        log.info("revoked %s", sorted(p.partition for p in partitions))
        self._metadata = None
        if self.transactions.in_transaction:
            self.dropped = True
            self.transactions.abort()
        revoked = {(p.topic, p.partition) for p in partitions}
        self.assignment = [p for p in self.assignment if (p.topic, p.partition) not in revoked]
        self.handler.forget(partitions)

    @property
    def _config(self) -> dict:
        return consumer_config(
            self.settings.kafka,
            self.settings.labeler.group_id,
            **{
                "fetch.min.bytes": 1,
                "max.partition.fetch.bytes": 4 * 1024 * 1024,
                "queued.min.messages": 100_000,
                # Static membership: a restarted instance takes its partitions back at once;
                # a dead one is replaced after the session timeout.
                "group.instance.id": f"{self.settings.labeler.transactional_id}-{self.instance}",
                "session.timeout.ms": 10_000,
            },
        )

    def _new_consumer(self) -> Consumer:
        return Consumer(self._config, logger=client_logger(KAFKA_LOGGER))
