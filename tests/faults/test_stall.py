"""A stall shows, idleness does not: the two sides of the ``LabelstreamLabelerStalled`` alert.

The labeler's progress monitor measures lag against the group's *committed*
offsets (not what the consumer has read), so a labeler stuck in its transaction
loop shows every record waiting; with its last-commit gauge aging (its start
until a first commit) that is what the ``LabelstreamLabelerStalled`` alert reads
(its rule is unit-tested with promtool in ``deploy/prometheus/rules/tests.yml``).
An idle labeler (nothing to read for longer than the alert's window) commits
nothing either, but has no lag: it stays live and ready and the condition stays
false (issue #12: an idle labeler once reported unhealthy after 60 s).
``stalled`` is the rule's expression on one labeler's own gauges, with the
window (300 s in the rule) shortened to seconds.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from labeler_support import RunningLabeler
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.labeler import service as labeler_service
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


def committed(settings) -> int:  # noqa: ANN001
    """Sum of the labeler group's committed offsets on ``records``."""
    consumer = Consumer(consumer_config(settings.kafka, settings.labeler.group_id))
    try:
        partitions = [TopicPartition(settings.topics.records, p) for p in range(settings.topics.partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10))
    finally:
        consumer.close()


def stalled(metrics: Metrics, topic: str, partitions: int, window: float) -> bool:
    """``LabelstreamLabelerStalled``'s expression: no commit for ``window`` seconds while records wait."""
    last_commit = metrics.value("labelstream_labeler_last_commit_timestamp_seconds")
    return time.time() - last_commit > window and total_lag(metrics, topic, partitions) > 0


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
        assert stalled(metrics, topic, partitions, window=0.2)
        ends = {}
        for m in read:
            ends[m.partition()] = max(ends.get(m.partition(), 0), m.offset() + 1)
        stuck.commit(offsets=[TopicPartition(topic, p, o) for p, o in ends.items()], asynchronous=False)
        wait_for_lag(metrics, topic, partitions, 20)  # committed what it read: only the 20 unread wait
    finally:
        monitor.stop()
        stuck.close()


def test_an_idle_labeler_stays_live_and_ready_and_raises_no_stall(stack_settings, monkeypatch):
    """A real labeler routes 5 records, then reads nothing for two windows: live, ready, not stalled."""
    settings, window = stack_settings, 3.0
    topic, partitions = settings.topics.records, settings.topics.partitions
    # the windows, short: /livez's (90 s in the service) and the alert's (300 s in the rule)
    monkeypatch.setattr(labeler_service, "LIVENESS_SECONDS", window)
    produce(settings, 0, 5)
    running = RunningLabeler(settings)
    labeler = running.labeler
    labeler.monitor.interval = 0.2
    with running:
        deadline = time.monotonic() + 60
        while labeler.loop.state.batches_committed == 0 or committed(settings) < 5:  # all 5 routed and committed
            assert time.monotonic() < deadline, "the 5 records were not committed"
            time.sleep(0.1)
        wait_for_lag(labeler.metrics, topic, partitions, 0)
        assert all(labeler.metrics.value("labelstream_consumer_lag_records", topic=topic, partition=str(p)) == 0
                   for p in range(partitions))  # sampled (an absent series would read as 0 above)
        last_commit = labeler.metrics.value("labelstream_labeler_last_commit_timestamp_seconds")
        samples = 0
        while time.time() - last_commit < 2 * window:  # idle: two windows without a commit
            live, live_detail = labeler.liveness()
            ready, ready_detail = labeler.readiness()
            assert live, live_detail
            assert ready, ready_detail
            assert not stalled(labeler.metrics, topic, partitions, window)
            samples += 1
            time.sleep(0.1)
        assert labeler.metrics.value("labelstream_labeler_last_commit_timestamp_seconds") == last_commit  # nothing committed
        assert samples > 10
