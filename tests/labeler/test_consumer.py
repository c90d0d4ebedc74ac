"""The labeler's group consumer on the real broker: it fetches what is queued, follows its assignment, rewinds."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from labelstream.kafka.config import producer_config
from labelstream.labeler.consumer import GroupConsumer
from labelstream.labeler.health import LoopState
from labelstream.labeler.transactions import Transactions
from stack_support import closed_port

pytestmark = pytest.mark.integration


class Forgets:
    def __init__(self) -> None:
        self.forgotten: list = []

    def forget(self, partitions):
        self.forgotten.append(list(partitions))


def fetch_all(consumer: GroupConsumer, n: int, timeout: float = 60) -> list:
    fetched, deadline = [], time.monotonic() + timeout
    while len(fetched) < n and time.monotonic() < deadline:
        fetched += consumer.fetch(n - len(fetched), 0.5)
    return fetched


def test_it_fetches_in_order_and_a_rewind_fetches_the_same_records_again(settings_factory):
    settings = settings_factory(partitions=1)
    producer = Producer(producer_config(settings.kafka))
    for i in range(5):
        producer.produce(settings.topics.records, key=f"r{i}".encode(), value=b"{}", partition=0)
    assert producer.flush(30) == 0
    retries: list[str] = []
    consumer = GroupConsumer(settings, "t", Transactions({}), Forgets(), LoopState(), retries.append)
    try:
        consumer.subscribe()
        fetched = fetch_all(consumer, 5)
        assert [m.offset() for m in fetched] == [0, 1, 2, 3, 4]
        assert [p.partition for p in consumer.assignment] == [0] and not consumer.dropped
        assert consumer.fetch(5, 0.2) == []  # nothing more queued
        consumer.rewind(fetched[3:] + fetched[2:3])  # back to the lowest offset given: 2
        assert [m.key() for m in fetch_all(consumer, 3)] == [b"r2", b"r3", b"r4"]
        assert retries == []
    finally:
        consumer.close()


def test_the_group_metadata_is_read_once_per_assignment_and_afresh_after_a_rebalance_or_a_rewind(settings_factory):
    settings = settings_factory(partitions=2)
    first = GroupConsumer(settings, "t", Transactions({}), Forgets(), LoopState(), [].append)
    second = None
    try:
        first.subscribe()
        deadline = time.monotonic() + 60
        while len(first.assignment) < 2 and time.monotonic() < deadline:
            first.fetch(10, 0.2)
        metadata = first.group_metadata()
        assert first.group_metadata() is metadata  # the same object until the group moves
        first.rewind([])  # a failed batch: read afresh
        reread = first.group_metadata()
        assert reread is not metadata
        second = GroupConsumer(settings, "u", Transactions({}), Forgets(), LoopState(), [].append)
        second.subscribe()
        deadline = time.monotonic() + 60
        while (len(first.assignment) != 1 or len(second.assignment) != 1) and time.monotonic() < deadline:
            first.fetch(10, 0.1)
            second.fetch(10, 0.1)
        assert len(first.assignment) == 1 and len(second.assignment) == 1
        after = first.group_metadata()
        assert after is not reread  # the rebalance forgot it
        assert after is first.group_metadata()
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.filterwarnings("ignore")
def test_with_no_broker_its_client_lines_reach_the_log_once_a_window(caplog):
    """librdkafka's failed connections (~20 a second per consumer with no broker; 681 lines in 17 s from a labeler
    before) go through the service's logging, a run of like lines passing once per window."""
    import logging

    from labelstream.settings import load_settings

    port = closed_port()
    settings = load_settings(kafka={"bootstrap_servers": f"localhost:{port}"})
    caplog.set_level(logging.INFO, logger="labelstream.labeler.kafka")
    consumer = GroupConsumer(settings, "t", Transactions({}), Forgets(), LoopState(), [].append)
    consumer.subscribe()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            consumer.fetch(10, 0.2)
    finally:
        consumer.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "labelstream.labeler.kafka"]
    failed = [line for line in lines if line.startswith("FAIL") and f":{port} failed" in line]
    assert len(failed) == 1, lines  # the first; the rest of the 4 s held back (10 s window)
