"""The labeler's progress monitor: lag from the *committed* offsets, backlogs, and whether Kafka and Redis answer.

On its own thread with its own Kafka client, so that it keeps reporting when
the loop is stuck: lag is the high watermark minus the group's committed
offset, per assigned partition; a labeler that consumes but never commits
shows a growing lag (as it must: nothing it consumed has an outcome yet).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from confluent_kafka import Consumer, KafkaException, TopicPartition

from labelstream.kafka.config import consumer_config
from labelstream.labeler.consumer import KAFKA_LOGGER
from labelstream.log_repeats import client_logger
from labelstream.metrics import Metrics
from labelstream.settings import Settings
from labelstream.store.records import RecordStore

log = logging.getLogger("labelstream.labeler.monitor")

# Kafka queries of one round: short, a round every INTERVAL.
QUERY_TIMEOUT = 5.0
INTERVAL = 5.0


class ProgressMonitor:
    """Every ``interval`` seconds: committed-offset lag of ``assignment()``, backlogs, reachability."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        store: RecordStore,
        assignment: Callable[[], list[TopicPartition]],
        interval: float = INTERVAL,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.assignment = assignment
        self.interval = interval
        self.kafka_ok = True
        self.redis_ok = True
        self.kafka_error = ""
        self.redis_error = ""
        self.last_round = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="progress-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(QUERY_TIMEOUT * 3)

    def _run(self) -> None:
        # Never subscribes: it only reads the group's committed offsets and the watermarks.
        self._consumer = Consumer(consumer_config(self.settings.kafka, self.settings.labeler.group_id),
                                  logger=client_logger(KAFKA_LOGGER))
        try:
            while not self._stop.is_set():
                self.round()
                self._consumer.poll(0)  # serves its log lines (never a message: it does not subscribe)
                self._stop.wait(self.interval)
        finally:
            self._consumer.close()

    def round(self) -> None:
        """One measurement of everything (also called directly by tests)."""
        self._lag()
        self._backlogs()
        self.last_round = time.monotonic()

    def _lag(self) -> None:
        partitions = [TopicPartition(tp.topic, tp.partition) for tp in self.assignment()]
        topic = self.settings.topics.records
        try:
            lags = {}
            committed = self._consumer.committed(partitions, timeout=QUERY_TIMEOUT) if partitions else []
            for tp in committed:
                low, high = self._consumer.get_watermark_offsets(tp, timeout=QUERY_TIMEOUT, cached=False)
                lags[tp.partition] = max(0, high - (tp.offset if tp.offset >= 0 else low))
            # Connectivity even with no partitions assigned (an idle or starting labeler).
            if not partitions:
                self._consumer.list_topics(topic, timeout=QUERY_TIMEOUT)
        except KafkaException as exc:
            self.kafka_ok, self.kafka_error = False, f"kafka: {exc}"
            return
        self.kafka_ok, self.kafka_error = True, ""
        self.metrics.replace_consumer_lag(topic, lags)

    def _backlogs(self) -> None:
        try:
            self.metrics.set_backlogs(review=self.store.review_backlog(), deferred=self.store.deferred_count())
        except redis.RedisError as exc:
            self.redis_ok, self.redis_error = False, f"redis: {exc}"
            return
        self.redis_ok, self.redis_error = True, ""
