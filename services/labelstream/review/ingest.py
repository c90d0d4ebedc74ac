"""``review`` topic -> queue: each batch is stored in Redis before its offsets are committed.

The consumer reads ``review`` with ``read_committed`` (the labeler's
transactions) in the group ``review.group_id``. A batch is enqueued in one
script, then its offsets are committed. A crash in between replays the batch,
and the queue ignores ids it already holds (whatever their state), so a
restart neither loses a request nor serves one twice. A second review
(``reason="disagreement"`` with a flagged answer, from the learner) reopens
its answered item instead (:meth:`ReviewQueue.reopen`, idempotent too). A request that fails
validation goes to the dead-letter topic (``invalid_review_request``) and does
not stall its partition. While Redis is down the batch waits and nothing is
committed.

The consumer is a *static* group member (``group.instance.id``, from
``review.instance_id`` or the group id, host name and port): after a restart of
the service or of the broker it takes its partitions back at once instead of
waiting for its old member's session to expire. A fatal consumer error (a
static member fenced: its session expired during an outage, librdkafka 3437,
or another service runs with the same id) makes a new consumer that joins again;
fenced ``FENCINGS_BEFORE_DYNAMIC`` times within ``FENCING_WINDOW`` seconds, the
id is taken to be shared and the service goes on as a dynamic member (a
warning names the fix) rather than fence the other one back and forth. A
duplicate is harmless either way: the queue ignores ids it holds.

A static member whose session times out (an outage longer than
``session.timeout.ms``) is replaced at once, without waiting for an error:
librdkafka's own rejoin after it can hang for good (issue 3437; twice in CI,
the consumer logged "session timed out ... rejoining group" and never joined
again). A consumer that stops taking requests without any error (no progress while
requests wait for ``review.ingest_stall_seconds``; see
:mod:`~labelstream.review.ingest_watch`) is replaced the same way. Offsets are
committed asynchronously: librdkafka's synchronous commit waits without a
bound, and a replayed batch is harmless.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque

import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from pydantic import ValidationError

from labelstream.core.schemas import DeadLetter
from labelstream.kafka.client_errors import describe, describe_exception
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.kafka.session import session_logger
from labelstream.log_repeats import client_logger
from labelstream.review.ingest_watch import StallWatch
from labelstream.review.items import QueueItem
from labelstream.review.queue import ReviewQueue
from labelstream.settings import Settings

log = logging.getLogger("labelstream.review.ingest")
KAFKA_LOGGER = "labelstream.review.ingest.kafka"  # the dead-letter producer's client lines

SERVICE = "review"
FENCINGS_BEFORE_DYNAMIC = 3
FENCING_WINDOW = 600.0
SKIPPED_COMMIT_SECONDS = 5.0


def static_instance_id(settings: Settings) -> str | None:
    """``review.instance_id``, else ``<group id>-<host name>-<port>`` (one service per host and port); ``None``
    for dynamic membership (``review.instance_id`` set to ``''``, or port 0: not known before the start)."""
    review = settings.review
    if review.instance_id is not None:
        return review.instance_id or None
    return f"{review.group_id}-{socket.gethostname()}-{review.port}" if review.port else None


class ReviewIngest:
    """Moves review requests from Kafka into the queue (one thread)."""

    BATCH = 500

    def __init__(self, settings: Settings, queue: ReviewQueue) -> None:
        self.settings = settings
        self.queue = queue
        self.instance_id = static_instance_id(settings)
        self._fencings: deque[float] = deque()
        self.rejoins = 0  # new consumers after a fatal error
        self.stalls = 0  # new consumers after a stall
        self.session_rejoins = 0  # new consumers after a static member's session timed out
        self.watch = StallWatch(settings.topics.review, settings.review.ingest_stall_seconds)
        self._kafka_log, self.session_timeouts = session_logger(log)  # the consumer's own log lines
        self.consumer = self._new_consumer()
        # its lines through the log (a run of like ones once a window), served by step()'s poll
        self.dlq = Producer(producer_config(settings.kafka, **{"linger.ms": 5}), logger=client_logger(KAFKA_LOGGER))
        self.enqueued = 0
        self.invalid = 0
        self.last_error = ""
        self.heartbeat = time.monotonic()
        self._committed: dict[tuple[str, int], int] = {}  # what this ingest last committed (asked to commit)
        self._next_skipped_commit = 0.0

    def run(self, stop: threading.Event) -> None:
        self._subscribe()
        try:
            while not stop.is_set():
                self.step(stop)
        finally:
            self.dlq.flush(5)
            self.consumer.close()

    def step(self, stop: threading.Event, timeout: float = 0.5) -> int:
        """Consume one batch, store it, commit it; how many messages it held."""
        self.heartbeat = time.monotonic()
        self.dlq.poll(0)  # its client's log lines
        messages = []
        try:
            for message in self.consumer.consume(self.BATCH, timeout):
                error = message.error()
                if error is None:
                    messages.append(message)
                elif error.fatal() or error.code() == KafkaError._FATAL:
                    self._rejoin(describe(error))
                    return 0  # what was read is not committed: the new consumer reads it again
                else:
                    self.last_error = f"kafka: {describe(error)}"
        # an exception the client left pending (labelstream.kafka.client_errors): as dead as after a fatal error
        except (KafkaException, SystemError) as exc:
            self._rejoin(f"{type(exc).__name__}: {describe_exception(exc)}")
            return 0
        if self.session_timeouts.new() and self.instance_id:
            self._session_timed_out()
            return 0
        if not messages:
            self._commit_skipped()
            if stall := self.watch.check(self.consumer):
                self.stalls += 1
                self.last_error = f"kafka: ingest stalled ({stall})"
                log.warning("review requests wait but the ingest takes none (%s): joining the group again with a new "
                            "consumer", stall)
                self._replace_consumer()
            return 0
        self.watch.progress()
        items = [item for item in (self._prepare(message) for message in messages) if item is not None]
        if not self._store(items, stop):
            return 0  # stopping while Redis is down: not committed, replayed at the next start
        if self.dlq.flush(30) != 0:
            self.last_error = "kafka: dead letters not delivered; the batch is not committed"
            return 0
        self._commit(messages)
        self.last_error = ""
        return len(messages)

    def _commit_skipped(self) -> None:
        """Commit positions that moved past the last commit without a message (transaction markers, aborted
        requests), at most every ``SKIPPED_COMMIT_SECONDS``: the group's offsets then reach the partitions' ends,
        so the stall watch does not take what was skipped for requests that wait."""
        now = time.monotonic()
        if now < self._next_skipped_commit:
            return
        self._next_skipped_commit = now + SKIPPED_COMMIT_SECONDS
        try:
            positions = self.consumer.position(self.consumer.assignment())
        except KafkaException:
            return
        moved = [tp for tp in positions if tp.offset >= 0 and tp.offset > self._committed.get((tp.topic, tp.partition), -1)]
        if moved:
            self._commit_offsets([TopicPartition(tp.topic, tp.partition, tp.offset) for tp in moved])

    def _config(self) -> dict:
        static = {"group.instance.id": self.instance_id} if self.instance_id else {}
        return consumer_config(self.settings.kafka, self.settings.review.group_id, on_commit=_commit_failed, **static)

    def _new_consumer(self) -> Consumer:
        return Consumer(self._config(), logger=self._kafka_log)

    def _subscribe(self) -> None:
        self.consumer.subscribe([self.settings.topics.review])

    def _replace_consumer(self) -> None:
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("closing the failed consumer: %s", exc)
        self.consumer = self._new_consumer()
        self._subscribe()

    def _session_timed_out(self) -> None:
        """A static member's session timed out (an outage, a stall): librdkafka's own rejoin can hang for good
        (issue 3437; seen in CI after a broker outage, no error raised), so a new consumer joins instead."""
        self.session_rejoins += 1
        self.last_error = "kafka: the consumer's group session timed out"
        log.warning("the ingest's group session timed out: joining the group again with a new consumer "
                    "(a static member's own rejoin can hang: librdkafka issue 3437)")
        self._replace_consumer()

    def _rejoin(self, error: str) -> None:
        """A new consumer after a fatal one (see the module docstring); dynamic after repeated fencings."""
        self.last_error = f"kafka: {error}"
        self.rejoins += 1
        now = time.monotonic()
        self._fencings.append(now)
        while self._fencings and now - self._fencings[0] > FENCING_WINDOW:
            self._fencings.popleft()
        if self.instance_id and len(self._fencings) >= FENCINGS_BEFORE_DYNAMIC:
            log.warning("fenced %d times in %.0f s: another review service seems to run with instance id %r; going on "
                        "as a dynamic member (give each review service its own review.instance_id)",
                        len(self._fencings), FENCING_WINDOW, self.instance_id)
            self.instance_id = None
        log.warning("fatal consumer error, joining the group again with a new consumer: %s", error)
        self._replace_consumer()

    def _prepare(self, message: Message) -> QueueItem | None:
        review = self.settings.review
        try:
            return QueueItem.from_request(message.value() or b"", review.overlap_share, review.overlap_k)
        except (ValidationError, ValueError) as exc:
            self.invalid += 1
            letter = DeadLetter.from_raw(
                message.value(), message.key(), "invalid_review_request", str(exc)[:500], message.topic(), SERVICE,
                message.partition(), message.offset(),
            )
            key = message.key() or f"{message.topic()}:{message.partition()}:{message.offset()}".encode()
            self.dlq.produce(self.settings.topics.dlq, key=key, value=letter.model_dump_json().encode())
            return None

    def _store(self, items: list[QueueItem], stop: threading.Event) -> bool:
        while not stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                self.enqueued += self.queue.enqueue([item for item in items if item.flagged_answer is None])
                self.enqueued += self.queue.reopen([item for item in items if item.flagged_answer is not None])
                return True
            except redis.RedisError as exc:
                self.last_error = f"redis: {exc}"
                log.warning("redis unavailable, review requests wait: %s", exc)
                stop.wait(1.0)
        return False

    def _commit(self, messages: list[Message]) -> None:
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            key = (message.topic(), message.partition())
            ends[key] = max(ends.get(key, 0), message.offset() + 1)
        self._commit_offsets([TopicPartition(t, p, o) for (t, p), o in ends.items()])

    def _commit_offsets(self, offsets: list[TopicPartition]) -> None:
        try:  # asynchronous: the outcome reaches _commit_failed from a later consume
            self.consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            _commit_failed(exc.args[0] if exc.args else exc, [])
            return
        for tp in offsets:
            self._committed[(tp.topic, tp.partition)] = tp.offset


def _commit_failed(error: object, partitions: list[TopicPartition]) -> None:
    """A failed commit (a rebalance, a broker restart): the batch is replayed, the queue ignores what it holds."""
    if error is not None:
        log.warning("commit failed, the batch will be replayed (harmless): %s", error)
