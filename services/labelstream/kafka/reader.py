"""Read a topic from its start to its current end (committed data only), without a consumer group.

Used by tests, ``simulate --via-kafka`` and the benchmarks to check outcomes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from labelstream.kafka.config import consumer_config
from labelstream.settings import KafkaSettings


def read_all(kafka: KafkaSettings, topic: str, timeout: float = 30.0) -> list[Message]:
    """Every committed message of ``topic`` up to its end at call time."""
    return list(iter_all(kafka, topic, timeout))


def iter_all(
    kafka: KafkaSettings, topic: str, timeout: float = 30.0, start: dict[int, int] | None = None
) -> Iterator[Message]:
    """Like :func:`read_all`, lazily; ``start`` (partition -> offset) reads only from there on."""
    consumer = Consumer(consumer_config(kafka, "labelstream-reader", **{"enable.auto.offset.store": False}))
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = list(metadata.topics[topic].partitions)
        # With read_committed, the high watermark we can reach is the last stable offset.
        ends = {}
        for p in partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        first = {p: (start or {}).get(p, OFFSET_BEGINNING) for p in partitions}
        todo = {p for p, high in ends.items() if high > max(first[p], 0)}
        consumer.assign([TopicPartition(topic, p, first[p]) for p in partitions])
        deadline = time.monotonic() + timeout
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=0.5):
                if msg.error():
                    continue
                yield msg
                if msg.offset() + 1 >= ends[msg.partition()]:
                    todo.discard(msg.partition())
            for p in list(todo):  # transaction markers can sit at the end: check the position
                position = consumer.position([TopicPartition(topic, p)])[0].offset
                if position >= ends[p]:
                    todo.discard(p)
    finally:
        consumer.close()
