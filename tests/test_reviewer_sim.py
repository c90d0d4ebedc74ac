"""The Kafka oracle reviewer (``labelstream.reviewer_sim``): a replayed request is not answered twice."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from labelstream.kafka.config import consumer_config, producer_config
from labelstream.reviewer_sim import SimulatedReviewer


def read_corrections(settings, expected: int, timeout: float = 20.0) -> list[dict]:  # noqa: ANN001
    consumer = Consumer(consumer_config(settings.kafka, "check-corrections", **{"auto.offset.reset": "earliest"}))
    consumer.assign([TopicPartition(settings.topics.corrections, p) for p in range(settings.topics.partitions)])
    found, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found += [orjson.loads(m.value()) for m in consumer.consume(100, 0.5) if m.error() is None]
            if len(found) > expected:
                break
            if len(found) == expected:
                deadline = min(deadline, time.monotonic() + 2)  # and nothing more arrives
    finally:
        consumer.close()
    return found


@pytest.mark.integration
def test_a_request_replayed_after_a_lost_commit_is_not_answered_again(stack_settings):
    settings = stack_settings
    producer = Producer(producer_config(settings.kafka))
    for i in range(6):
        producer.produce(settings.topics.review, key=f"r{i}".encode(), value=orjson.dumps({"id": f"r{i}", "timestamp": 0.0}))
    assert producer.flush(10) == 0
    reviewer = SimulatedReviewer(settings, {f"r{i}": "a" for i in range(6)})
    reviewer.consumer.subscribe([settings.topics.review])
    try:
        deadline = time.monotonic() + 30
        while reviewer.answered < 6:
            assert time.monotonic() < deadline, f"answered {reviewer.answered} of 6"
            reviewer.step()
        # What a rebalance does to an offset whose commit was lost: the requests come again.
        for tp in reviewer.consumer.assignment():
            reviewer.consumer.seek(TopicPartition(tp.topic, tp.partition, 0))
        for _ in range(5):
            reviewer.step()
    finally:
        reviewer.consumer.close()
    assert reviewer.answered == 6
    assert sorted(c["id"] for c in read_corrections(settings, 6)) == [f"r{i}" for i in range(6)]
