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
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from pydantic import ValidationError

from labelstream.core.schemas import DeadLetter
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.review.items import QueueItem
from labelstream.review.queue import ReviewQueue
from labelstream.settings import Settings

log = logging.getLogger("labelstream.review.ingest")

SERVICE = "review"


class ReviewIngest:
    """Moves review requests from Kafka into the queue (one thread)."""

    BATCH = 500

    def __init__(self, settings: Settings, queue: ReviewQueue) -> None:
        self.settings = settings
        self.queue = queue
        self.consumer = Consumer(consumer_config(settings.kafka, settings.review.group_id))
        self.dlq = Producer(producer_config(settings.kafka, **{"linger.ms": 5}))
        self.enqueued = 0
        self.invalid = 0
        self.last_error = ""
        self.heartbeat = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        self.consumer.subscribe([self.settings.topics.review])
        try:
            while not stop.is_set():
                self.step(stop)
        finally:
            self.dlq.flush(5)
            self.consumer.close()

    def step(self, stop: threading.Event, timeout: float = 0.5) -> int:
        """Consume one batch, store it, commit it; how many messages it held."""
        self.heartbeat = time.monotonic()
        messages = []
        for message in self.consumer.consume(self.BATCH, timeout):
            if message.error() is None:
                messages.append(message)
            else:
                self.last_error = f"kafka: {message.error()}"
        if not messages:
            return 0
        items = [item for item in (self._prepare(message) for message in messages) if item is not None]
        if not self._store(items, stop):
            return 0  # stopping while Redis is down: not committed, replayed at the next start
        if self.dlq.flush(30) != 0:
            self.last_error = "kafka: dead letters not delivered; the batch is not committed"
            return 0
        self._commit(messages)
        self.last_error = ""
        return len(messages)

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
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()], asynchronous=False)
        except KafkaException as exc:  # e.g. a rebalance or a broker restart: the batch is replayed, the queue ignores it
            log.warning("commit failed, the batch will be replayed (harmless): %s", exc)
