"""Records into the benchmark's topic: the workload encoded and produced as fast as the client takes it."""

from __future__ import annotations

import orjson
from confluent_kafka import Producer

from labelstream.bench.workload import synthetic_records
from labelstream.kafka.config import producer_config
from labelstream.settings import Settings


def produce_records(settings: Settings, topic: str, n: int, seed: int = 1) -> None:
    producer = Producer(producer_config(settings.kafka))
    for payload, _label in synthetic_records(n, seed=seed):
        value = orjson.dumps(payload)
        while True:
            try:
                producer.produce(topic, key=payload["id"].encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def made_records(n: int, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """``n`` records of the workload as (key, value), encoded ahead (drawing them costs ~15 us a record)."""
    return [(payload["id"].encode(), orjson.dumps(payload)) for payload, _label in synthetic_records(n, seed=seed)]


def produce_made(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    """Produce encoded records as fast as the client takes them."""
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 5}))
    produce, topic = producer.produce, settings.topics.records
    for key, value in records:
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
