"""A stall shows: a member of the labeler group that consumes but never commits makes the lag grow.

The labeler's progress monitor measures lag against the group's *committed*
offsets (not what the consumer has read), so a labeler stuck in its transaction
loop shows every record waiting; with its last-commit gauge aging (its start
until a first commit) that is what the ``LabelstreamLabelerStalled`` alert reads
(its rule is unit-tested with promtool in ``deploy/prometheus/rules/tests.yml``).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from labelstream.kafka.config import consumer_config, producer_config
from labelstream.labeler.monitor import ProgressMonitor
from labelstream.metrics import Metrics
from labelstream.store.connection import connect
from labelstream.store.records import RecordStore

pytestmark = pytest.mark.faults


def produce(settings, start: int, count: int) -> None:  # noqa: ANN001
    producer = Producer(producer_config(settings.kafka))
    for i in range(start, start + count):
        producer.produce(settings.topics.records, key=f"s{i}".encode(), value=b'{"id": "s%d", "features": {"x": 1}}' % i)
    assert producer.flush(30) == 0


def total_lag(metrics: Metrics, topic: str, partitions: int) -> float:
    return sum(metrics.value("labelstream_consumer_lag_records", topic=topic, partition=str(p)) or 0 for p in range(partitions))


def wait_for_lag(metrics: Metrics, topic: str, partitions: int, expected: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (lag := total_lag(metrics, topic, partitions)) != expected:
        assert time.monotonic() < deadline, f"lag {lag}, expected {expected}"
        time.sleep(0.1)


def test_consuming_without_committing_shows_a_growing_lag_and_a_commit_clears_it(stack_settings):
    settings = stack_settings
    topic, partitions = settings.topics.records, settings.topics.partitions
    produce(settings, 0, 30)
    stuck = Consumer(consumer_config(settings.kafka, settings.labeler.group_id))  # the labeler group; commits explicitly
    stuck.subscribe([topic])
    metrics = Metrics("labeler")
    monitor = ProgressMonitor(settings, metrics, RecordStore.from_settings(connect(settings.redis), settings),
                              stuck.assignment, interval=0.2)
    monitor.start()
    try:
        read: list = []
        deadline = time.monotonic() + 60
        while len(read) < 30:
            assert time.monotonic() < deadline, f"read {len(read)} of 30"
            read += [m for m in stuck.consume(30, timeout=0.5) if not m.error()]
        wait_for_lag(metrics, topic, partitions, 30)  # all read, none committed: all waiting
        produce(settings, 30, 20)
        wait_for_lag(metrics, topic, partitions, 50)  # and it keeps growing while nothing commits
        assert metrics.value("labelstream_labeler_last_commit_timestamp_seconds") <= time.time() - 0.2  # aging
        ends = {}
        for m in read:
            ends[m.partition()] = max(ends.get(m.partition(), 0), m.offset() + 1)
        stuck.commit(offsets=[TopicPartition(topic, p, o) for p, o in ends.items()], asynchronous=False)
        wait_for_lag(metrics, topic, partitions, 20)  # committed what it read: only the 20 unread wait
    finally:
        monitor.stop()
        stuck.close()
