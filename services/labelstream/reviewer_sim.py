"""A simulated reviewer: answers ``review`` requests from a file's label column (an oracle).

Used by ``simulate --via-kafka``, the demo, the benchmarks and the fault
suite. It consumes ``review`` in its own group, waits ``delay`` seconds after
each request's timestamp (a human's think time), and publishes a
:class:`~labelstream.core.schemas.Correction` with the true label. At-least-once:
offsets are committed after the corrections are delivered; a request this
process already answered (a replay after a rebalance lost an uncommitted
offset, e.g. while a partition leader moves) is not answered again, as a
person would not.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping

import orjson
from confluent_kafka import Consumer, KafkaException, Producer

from labelstream.core.schemas import Correction
from labelstream.datafile import open_rows
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.settings import Settings

log = logging.getLogger("labelstream.reviewer_sim")


def truth_from_file(path: str, label_column: str, id_column: str | None = None) -> dict[str, str]:
    """Record id -> true label, from a labeled CSV/JSONL file (ids as ``produce`` makes them)."""
    truth = {}
    for row in open_rows(path, label_column=label_column, id_column=id_column):
        if row.payload is not None and row.label is not None:
            truth[str(row.payload["id"])] = row.label
    return truth


class SimulatedReviewer:
    """Answers review requests with the true label after ``delay_seconds``; ``accuracy`` < 1 adds mistakes."""

    def __init__(
        self,
        settings: Settings,
        truth: Mapping[str, str],
        delay_seconds: float = 0.0,
        accuracy: float = 1.0,
        group_id: str | None = None,
        reviewer: str = "simulated",
        seed: int = 0,
    ) -> None:
        self.settings = settings
        self.truth = truth
        self.delay_seconds = delay_seconds
        self.accuracy = accuracy
        self.reviewer = reviewer
        self.answered = 0
        self.unknown = 0
        self._classes = sorted(set(truth.values()))
        self._rng = random.Random(seed)
        self._seen: dict[int, int] = {}  # review partition -> last offset this process answered
        self._stop = threading.Event()
        group = group_id or f"{settings.labeler.group_id}-reviewer-sim"
        self.consumer = Consumer(consumer_config(settings.kafka, group))
        self.producer = Producer(producer_config(settings.kafka, **{"linger.ms": 1}))

    def stop(self, *_args: object) -> None:
        self._stop.set()

    def run(self) -> None:
        """Answer until stopped."""
        self.consumer.subscribe([self.settings.topics.review])
        try:
            while not self._stop.is_set():
                self.step()
        finally:
            self.producer.flush(10)
            self.consumer.close()

    def step(self, timeout: float = 0.2) -> int:
        """Answer one batch of review requests; return how many were answered."""
        messages = [m for m in self.consumer.consume(500, timeout) if m.error() is None]
        if not messages:
            return 0
        answered = 0
        for msg in messages:
            if msg.offset() <= self._seen.get(msg.partition(), -1):
                continue  # a replay: answered by this process before its offset was committed
            self._seen[msg.partition()] = msg.offset()
            request = orjson.loads(msg.value())
            true_label = self.truth.get(request["id"])
            if true_label is None:
                self.unknown += 1
                continue
            self._wait(request.get("timestamp", 0.0))
            label = true_label if self._rng.random() < self.accuracy else self._rng.choice(self._classes)
            correction = Correction(id=request["id"], label=label, reviewer=self.reviewer)
            self.producer.produce(
                self.settings.topics.corrections, key=request["id"].encode(), value=correction.model_dump_json().encode()
            )
            self.producer.poll(0)
            answered += 1
        if self.producer.flush(30) == 0:
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException as exc:  # e.g. the coordinator moved (broker restart): the next commit covers it
                log.warning("commit failed, the next batch's commit covers it: %s", exc)
        self.answered += answered
        return answered

    def _wait(self, requested_at: float) -> None:
        remaining = requested_at + self.delay_seconds - time.time()
        if remaining > 0:
            self._stop.wait(remaining)
