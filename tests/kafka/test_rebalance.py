"""Rebalance callbacks that take and give up partitions themselves, on a real broker, fenced consumers included."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError

from labelstream.kafka import rebalance
from labelstream.kafka.config import consumer_config

pytestmark = pytest.mark.integration


def static_consumer(settings, group: str) -> tuple[Consumer, dict]:  # noqa: ANN001
    config = consumer_config(settings.kafka, group, **{"group.instance.id": "same"})
    return Consumer(config), config


def consume_until(consumer: Consumer, condition, seconds: float = 30.0) -> list:  # noqa: ANN001
    """Poll until ``condition(messages)`` holds; the messages of that poll."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        messages = consumer.consume(10, 0.2)
        if condition(messages):
            return messages
    raise AssertionError("the condition never held")


def test_the_callbacks_take_and_give_up_the_partitions(stack_settings):
    topic = stack_settings.topics.records
    seen: list[tuple[str, list[int]]] = []
    config = consumer_config(stack_settings.kafka, f"g-{uuid.uuid4().hex[:8]}")
    consumer = Consumer(config)
    try:
        rebalance.subscribe(consumer, [topic], config,
                            on_assign=lambda _c, parts: seen.append(("assign", sorted(p.partition for p in parts))),
                            on_revoke=lambda _c, parts: seen.append(("revoke", sorted(p.partition for p in parts))))
        consume_until(consumer, lambda _m: bool(seen))
        assert seen == [("assign", [0, 1, 2])]
        assert sorted(p.partition for p in consumer.assignment()) == [0, 1, 2]  # taken by our callback
        consumer.unsubscribe()
        consume_until(consumer, lambda _m: len(seen) == 2, 10)
        assert seen[1] == ("revoke", [0, 1, 2]) and consumer.assignment() == []
    finally:
        consumer.close()


def test_a_fenced_consumer_gives_up_without_raising(stack_settings):
    """A static member fenced by another with its instance id is dead (a fatal error): taking and giving up
    partitions on it never raise, and its error is described."""
    group = f"g-{uuid.uuid4().hex[:8]}"
    first, config = static_consumer(stack_settings, group)
    rebalance.subscribe(first, [stack_settings.topics.records], config)
    second = None
    try:
        consume_until(first, lambda _m: bool(first.assignment()))
        parts = first.assignment()
        second, _ = static_consumer(stack_settings, group)
        second.subscribe([stack_settings.topics.records])

        def fenced(messages: list) -> bool:
            second.consume(10, 0.2)
            return any(m.error() is not None and m.error().code() == KafkaError._FATAL for m in messages)

        errors = [m.error() for m in consume_until(first, fenced) if m.error() is not None]
        rebalance.give_up(first, parts)
        rebalance.take(first, parts)
        assert "Static consumer fenced" in rebalance.describe(errors[0])
    finally:
        first.close()
        if second is not None:
            second.close()


def test_describe_names_an_error():
    assert rebalance.describe(KafkaError(KafkaError._TRANSPORT)).startswith("KafkaError{code=_TRANSPORT")


def test_cooperative_is_read_from_the_configuration():
    assert rebalance.cooperative({"partition.assignment.strategy": "cooperative-sticky"})
    assert not rebalance.cooperative({"partition.assignment.strategy": "range,roundrobin"})
    assert not rebalance.cooperative({})
