"""The outbox: corrections accepted in Redis, published to ``corrections`` once each.

An answer enters the outbox (a Redis list) in the same script that accepts it
(:mod:`~labelstream.review.queue`), so an accepted answer is never lost. The
leader publishes the outbox in order; one step (:meth:`OutboxPublisher.publish_once`):

1. read the oldest entries (up to ``batch_size``);
2. produce each to ``corrections`` (key: the record id; idempotent producer)
   and wait for every delivery report;
3. in one script, if still the leader: remove them from the outbox and store,
   per partition, the offset after the last one delivered (the *positions*).

A crash between 2 and 3 leaves published entries in the outbox, and so does a
batch in which one delivery failed. So before publishing, at start and after
any failure, :meth:`OutboxPublisher.recover` reads ``corrections`` from the
positions to its end and removes from the outbox every entry whose
``answer_id`` (unique, ``<id>#<n>``) it finds there. Each answer is therefore
published once: the test kills the service with ``-9`` mid-run and counts
answer ids on the topic.

Why not a Kafka transaction: the learner (faust, aiokafka) reads
``corrections`` with ``read_uncommitted``, so the records of an aborted
transaction would be learned all the same. The one residual window: a
produce request already sent by a killed process that the broker makes
visible only after the restart's scan (acks=all waiting on a lagging
follower); that answer appears twice under the same ``answer_id``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import orjson
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from pydantic import ValidationError

from labelstream.core.schemas import Correction
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.kafka.topics import _watermarks as watermarks  # rides out a leader election
from labelstream.log_repeats import client_logger
from labelstream.review.leader import LeaderLock
from labelstream.settings import Settings

log = logging.getLogger("labelstream.review.outbox")
# librdkafka's own lines of the outbox's clients (runs of like lines held back: log_repeats.librdkafka_key)
KAFKA_LOGGER = "labelstream.review.outbox.kafka"

# KEYS: leader lock, outbox, positions. ARGV: leader token, entries published, then (partition, offset) pairs.
_TRIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return 1
"""

# KEYS: leader lock, outbox, positions. ARGV: leader token, n, n raw entries to drop, then (partition, offset) pairs.
_DROP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local n = tonumber(ARGV[2])
local dropped = 0
for i = 3, 2 + n do dropped = dropped + redis.call('LREM', KEYS[2], 1, ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return dropped
"""


class NotLeader(Exception):
    """Another instance holds the leader lock."""


class OutboxPublisher:
    """Publishes the outbox to ``corrections`` (see the module docstring for the steps and the recovery)."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        leader: LeaderLock,
        on_published: Callable[[str], None] | None = None,
        batch_size: int = 500,
    ) -> None:
        self.settings = settings
        self.client = client
        self.leader = leader
        self.topic = settings.topics.corrections
        self.batch_size = batch_size
        self.on_published = on_published or (lambda kind: None)
        prefix = settings.redis.key_prefix
        self.outbox_key = f"{prefix}:review:outbox"
        self.positions_key = f"{prefix}:review:outbox:positions"
        self.rejected_key = f"{prefix}:review:outbox:rejected"
        self._trim = client.register_script(_TRIM)
        self._drop = client.register_script(_DROP)
        self.producer = Producer(producer_config(settings.kafka, **{"linger.ms": 2, "client.id": "labelstream-review"}),
                                 logger=client_logger(KAFKA_LOGGER))  # its lines served by run()'s poll
        self.last_success = time.monotonic()
        self.last_error = ""

    # -- publishing ------------------------------------------------------------------------------

    def publish_once(self, stop: threading.Event | None = None) -> int:
        """Publish the oldest entries (steps 1-3); how many. Raises on a failure: :meth:`recover` next."""
        raw_entries = self.client.lrange(self.outbox_key, 0, self.batch_size - 1)
        if not raw_entries:
            self.last_success = time.monotonic()
            return 0
        positions = self.produce(raw_entries, stop)
        if positions is None:
            raise KafkaException("not every correction of the batch was delivered")
        self.commit(len(raw_entries), positions)
        self.last_success = time.monotonic()
        self.last_error = ""
        return len(raw_entries)

    def produce(self, raw_entries: list[bytes], stop: threading.Event | None = None) -> dict[int, int] | None:
        """Step 2: produce the entries and wait for their delivery; partition -> next offset, or ``None`` on a failure."""
        reports: list[tuple[object, int, int]] = []
        kinds = []

        def delivered(error: object, message: object) -> None:
            reports.append((error, message.partition(), message.offset()))

        sent = 0
        for raw in raw_entries:
            correction = self._correction(raw)
            if correction is None:
                continue
            self.producer.produce(
                self.topic, key=correction.id.encode(), value=correction.wire_json(), on_delivery=delivered
            )
            kinds.append(correction.kind)
            sent += 1
        renewed = time.monotonic()
        while len(reports) < sent:  # a broker outage waits here (message.timeout.ms), the lock kept
            self.producer.poll(0.2)
            if stop is not None and stop.is_set() and len(reports) < sent:
                return None
            if time.monotonic() - renewed > 1.0:
                self.leader.hold()
                renewed = time.monotonic()
        if any(error is not None for error, _p, _o in reports):
            self.last_error = f"kafka: {next(error for error, _p, _o in reports if error is not None)}"
            return None
        for kind in kinds:
            self.on_published(kind)
        positions: dict[int, int] = {}
        for _error, partition, offset in reports:
            positions[partition] = max(positions.get(partition, 0), offset + 1)
        return positions

    def commit(self, n_entries: int, positions: dict[int, int]) -> None:
        """Step 3: drop the published entries and store the positions, if still the leader."""
        args: list[object] = [self.leader.token, n_entries]
        for partition, offset in positions.items():
            args += [partition, offset]
        if not self._trim(keys=[self.leader.key, self.outbox_key, self.positions_key], args=args, client=self.client):
            raise NotLeader("lost the leader lock before the outbox was trimmed")

    def _correction(self, raw: bytes) -> Correction | None:
        """The entry as a validated Correction; an invalid one (a bug) is set aside so it cannot stall the outbox."""
        try:
            return Correction.model_validate(orjson.loads(raw))
        except (ValidationError, orjson.JSONDecodeError) as exc:
            log.error("outbox entry set aside (%s): %r", exc, raw[:200])
            self.client.rpush(self.rejected_key, raw)
            return None

    # -- recovery ----------------------------------------------------------------------------------

    def recover(self) -> int:
        """Remove from the outbox what ``corrections`` already holds past the positions; how many."""
        stored = {int(p): int(o) for p, o in self.client.hgetall(self.positions_key).items()}
        published, ends = self._published_since(stored)
        pending = self.client.lrange(self.outbox_key, 0, -1)
        doomed = [raw for raw in pending if _answer_id(raw) in published]
        args: list[object] = [self.leader.token, len(doomed), *doomed]
        for partition, offset in ends.items():
            args += [partition, offset]
        dropped = self._drop(keys=[self.leader.key, self.outbox_key, self.positions_key], args=args, client=self.client)
        if dropped < 0:
            raise NotLeader("lost the leader lock during recovery")
        if dropped:
            log.warning("outbox recovery: %d correction(s) were already published; not publishing them again", dropped)
        return int(dropped)

    def _published_since(self, positions: dict[int, int]) -> tuple[set[str], dict[int, int]]:
        """Answer ids on ``corrections`` from ``positions`` (all of it where none is stored) to its end, and the ends."""
        consumer = Consumer(consumer_config(self.settings.kafka, f"{self.settings.review.group_id}-outbox-scan"),
                            logger=client_logger(KAFKA_LOGGER))  # ~20 lines a second with no broker; never served
        ids: set[str] = set()
        try:
            partitions = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            ends = {p: watermarks(consumer, TopicPartition(self.topic, p))[1] for p in partitions}
            if not positions:  # first start: nothing of ours can be on the topic yet
                return ids, ends
            start = {p: positions.get(p, OFFSET_BEGINNING) for p in partitions}
            todo = {p for p in partitions if start[p] == OFFSET_BEGINNING or start[p] < ends[p]}
            if not todo:
                return ids, ends
            consumer.assign([TopicPartition(self.topic, p, start[p]) for p in todo])
            deadline = time.monotonic() + 60
            while todo and time.monotonic() < deadline:
                for msg in consumer.consume(1000, 0.5):
                    if msg.error() is None:
                        ids.add(_answer_id(msg.value()))
                for tp in consumer.position([TopicPartition(self.topic, p) for p in list(todo)]):
                    if tp.offset >= ends[tp.partition]:
                        todo.discard(tp.partition)
            if todo:
                raise KafkaException(f"could not read {self.topic} to its end within 60 s (partitions {sorted(todo)})")
            return ids, ends
        finally:
            consumer.close()

    def close(self) -> None:
        self.producer.flush(5)


def _answer_id(raw: bytes | None) -> str | None:
    try:
        value = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return None
    return value.get("answer_id") if isinstance(value, dict) else None


class PublisherLoop:
    """The leader's publishing thread: recover when needed, then publish as entries arrive."""

    IDLE_SECONDS = 0.05
    LEADER_CHECK_SECONDS = 1.0

    def __init__(self, publisher: OutboxPublisher) -> None:
        self.publisher = publisher
        self.is_leader = False
        self._needs_recovery = True
        self._leader_checked = 0.0
        self.heartbeat = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.heartbeat = time.monotonic()
            self.publisher.producer.poll(0)  # its log lines (and nothing else: each produce() waits for its reports)
            try:
                if not self._lead():
                    stop.wait(self.LEADER_CHECK_SECONDS)
                    continue
                if self._needs_recovery:
                    self.publisher.recover()
                    self._needs_recovery = False
                if self.publisher.publish_once(stop) == 0:
                    stop.wait(self.IDLE_SECONDS)
            except (redis.RedisError, KafkaException, NotLeader) as exc:
                self._needs_recovery = True
                self.publisher.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox not published yet, retrying: %s", exc)
                stop.wait(1.0)

    def _lead(self) -> bool:
        now = time.monotonic()
        if now - self._leader_checked >= self.LEADER_CHECK_SECONDS or not self.is_leader:
            was = self.is_leader
            self.is_leader = self.publisher.leader.hold()
            self._leader_checked = now
            if self.is_leader and not was:
                self._needs_recovery = True
                log.info("review service instance is the leader (publishes corrections, consolidates)")
        return self.is_leader
