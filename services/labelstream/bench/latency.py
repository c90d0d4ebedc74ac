"""Latency runs: records produced at a fixed rate, each timed until its outcome is visible to a ``read_committed``
consumer; and correction -> new model version live."""

from __future__ import annotations

import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from labelstream.bench.workload import synthetic_records
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.settings import Settings


def measure_latency(
    settings: Settings, rate: int, seconds: float, clock: Callable[[str], None] = lambda event: None,
) -> tuple[list[float], tuple[list[float], list[float]], list[float]]:
    """Produce at ``rate`` for ``seconds``; latency of each record until its outcome is visible (read_committed),
    its two parts: until the outcome was produced (its message timestamp), then until visible; and when each
    was produced (seconds since the first). ``clock`` is told ``"start"`` and ``"stop"`` around the timed stream."""
    sys.setswitchinterval(0.0005)  # the producer and the measuring consumer share this process
    sent: dict[str, float] = {}
    latencies: list[float] = []
    to_outcome: list[float] = []
    to_visible: list[float] = []
    since_start: list[float] = []
    stop = threading.Event()
    consumer = Consumer(consumer_config(settings.kafka, f"latency-{uuid.uuid4().hex[:6]}", **{"fetch.wait.max.ms": READER_FETCH_WAIT_MS}))
    outputs = [settings.topics.labels, settings.topics.review, settings.topics.deferred]
    assignment = []
    for topic in outputs:
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            assignment.append(TopicPartition(topic, p, OFFSET_BEGINNING))
    consumer.assign(assignment)

    def consume() -> None:
        while not stop.is_set() or len(latencies) < len(sent):
            for msg in available(consumer, 0.05):
                if msg.error() is None:
                    received = time.time()
                    produced_at = sent.get(msg.key().decode())
                    if produced_at is not None:
                        latencies.append(received - produced_at)
                        since_start.append(produced_at - first_sent)
                        kind, outcome_ms = msg.timestamp()
                        if kind:  # the outcome's create time (ms): when the labeler produced it
                            to_outcome.append(max(0.0, outcome_ms / 1000 - produced_at))
                            to_visible.append(max(0.0, received - outcome_ms / 1000))
            if stop.is_set() and time.time() > stop_time + 10:
                return

    stop_time = float("inf")
    first_sent = time.time()  # reset when the first record is sent
    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": PRODUCER_LINGER_MS}))
    warm_up(producer, settings)
    # Made before the clock starts: drawing 20 features costs ~15 us a record, 15 % of a core at 10k/s that
    # the labeler would not get (2 CPUs). In the timed loop, only the timestamp is spliced in.
    made = [
        (payload["id"], payload["id"].encode(), orjson.dumps(payload)[1:])
        for payload, _label in synthetic_records(int(rate * seconds), seed=7, prefix=f"l{rate}-")
    ]
    interval = 1.0 / rate
    clock("start")
    start = time.perf_counter()
    first_sent = time.time()
    for i, (record_id, key, rest) in enumerate(made):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:  # never early; at most one wake-up a PACE_SECONDS (a record a wake-up at 10k/s costs the machine)
            time.sleep(max(delay, PACE_SECONDS))
        now = time.time()
        sent[record_id] = now
        producer.produce(settings.topics.records, key=key, value=b'{"timestamp":' + orjson.dumps(now) + b"," + rest)
        producer.poll(0)
    producer.flush(30)
    clock("stop")
    stop_time = time.time()
    stop.set()
    reader.join(30)
    consumer.close()
    return latencies, (to_outcome, to_visible), since_start


def available(consumer: Consumer, wait: float) -> list:
    """What is queued, or the first message within ``wait`` and what came with it (never the whole wait
    when one message is there, which ``consume(n, timeout)`` does until it has n)."""
    messages = consumer.consume(1000, 0)
    if messages:
        return messages
    first = consumer.poll(wait)
    return [] if first is None else [first, *consumer.consume(999, 0)]


def warm_up(producer: Producer, settings: Settings) -> None:
    """Deliver one record first: an idempotent producer holds its first messages until it has its
    producer id (~0.5 s here), which would otherwise count as the labeler's latency."""
    payload, _label = next(synthetic_records(1, seed=5, prefix="warmup-"))
    producer.produce(settings.topics.records, key=payload["id"].encode(), value=orjson.dumps(payload))
    producer.flush(30)


def measure_update_latency(settings: Settings, corrections: int, rate: int = 1000) -> list[float]:
    """Send corrections one at a time under a 1k/s stream; time until outcomes carry a newer model version."""
    stop = threading.Event()

    def stream() -> None:
        producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
        for i, (payload, _label) in enumerate(synthetic_records(10**9, seed=11, prefix="u")):
            if stop.is_set():
                break
            producer.produce(settings.topics.records, key=payload["id"].encode(), value=orjson.dumps(payload))
            producer.poll(0)
            if i % 10 == 9:
                time.sleep(10 / rate)
        producer.flush(10)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    follower = Consumer(consumer_config(settings.kafka, f"update-{uuid.uuid4().hex[:6]}", **{"fetch.wait.max.ms": 1}))
    outputs = [settings.topics.labels, settings.topics.review, settings.topics.deferred]
    follower.subscribe(outputs)
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
    latencies = []
    stored_ids: list[str] = []
    version = 0
    try:
        deadline = time.monotonic() + 30
        while not stored_ids and time.monotonic() < deadline:  # records whose features the labeler stored
            for msg in follower.consume(1000, 0.1):
                if msg.error() is None and msg.topic() != settings.topics.labels:
                    stored_ids.append(msg.key().decode())
                if msg.error() is None:
                    version = max(version, orjson.loads(msg.value()).get("model_version") or 0)
        for i in range(corrections):
            record_id = stored_ids[i % len(stored_ids)] if stored_ids else None
            if record_id is None:
                break
            sent_at = time.time()
            correction = {"id": record_id, "label": "pos", "reviewer": "bench", "timestamp": sent_at}
            producer.produce(settings.topics.corrections, key=record_id.encode(), value=orjson.dumps(correction))
            producer.flush(5)
            live = wait_for_version(follower, version + 1, settings, stored_ids)
            if live is None:
                continue
            version, live_at = live
            latencies.append(live_at - sent_at)
            time.sleep(1.0)
    finally:
        stop.set()
        streamer.join(10)
        follower.close()
    return latencies


def wait_for_version(follower: Consumer, at_least: int, settings: Settings, stored_ids: list[str], timeout: float = 15) -> tuple[int, float] | None:
    """The first outcome carrying model version >= ``at_least``: (version, its labeler timestamp)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in follower.consume(1000, 0.05):
            if msg.error() is not None:
                continue
            value = orjson.loads(msg.value())
            if msg.topic() != settings.topics.labels:
                stored_ids.append(value["id"])
            version = value.get("model_version") or 0
            if version >= at_least:
                return version, value["timestamp"]
    return None


PACE_SECONDS = 0.001
"""The latency runs' producer sleeps at least this long when ahead of schedule, then sends what has come due
(records are sent on time or up to this late, each stamped when sent). A sleep a record at 10k/s cost the bench
process 0.6 cores and the broker 0.7 (10k tiny produce requests a second) of the machine's 2, measured with no
labeler running; the labeler was left ~0.4 cores, about what 10k/s needs (a probe of the producer and reader alone, 2026-12-01)."""


PRODUCER_LINGER_MS = 1
"""The latency runs' producer batches what it sends within 1 ms (counted in the latency: each record is stamped
before it is handed to the client). With 0, each wake-up's records went out in requests of their own; 1 ms: p99 at
10k/s 141 / 125 ms vs 200 / 192 (interleaved pairs, 2026-12-01 22:00), the broker 0.61 vs 0.68 cores."""


READER_FETCH_WAIT_MS = 20
"""How long the broker may hold the measuring reader's fetch when nothing new is visible. A read_committed fetch is
answered as soon as a commit makes outcomes visible, so this bounds idle polling only: at 1 ms the reader asked the
broker ~1,000 times a second for nothing between commits. 20 ms: p99 at 1k/s 63 / 49 ms vs 92 / 59, at 10k/s 149 vs
222 / 266, the broker 0.1 core less (interleaved pairs, 2026-12-01 22:16-22:22)."""


STEADY_AFTER = 2.0
"""Seconds from the start of a latency run after which records count as steady state."""


def steady(latencies: list[float], since_start: list[float]) -> dict[str, Any]:
    """Percentiles of the records produced after the first :data:`STEADY_AFTER` seconds (start-up left out)."""
    return percentiles([latency for latency, at in zip(latencies, since_start, strict=True) if at >= STEADY_AFTER])


def percentiles(latencies: list[float]) -> dict[str, Any]:
    if not latencies:
        return {"n": 0, "p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(at(0.95), 2),
        "p99_ms": round(at(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }
