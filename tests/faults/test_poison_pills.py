"""Poison pills mid-stream, nothing killed: each is dead-lettered, every other record gets its one outcome.

A stream of valid records runs across three partitions; every few seconds one
poison goes into a partition, followed at once by a valid *sentinel* record on
the same partition. The shapes: undecodable bytes, a record near the broker's
size limit (too large to dead-letter whole), a record that crashes the model
(the Hoeffding tree overflows), one that crashes the encoder (an injected
failure: no real record does), and a bad record whose dead letter the DLQ
topic (limited to 100 kB here) refuses whole. An outcome its topic refuses is
tested in ``tests/services/test_transaction_loop.py`` (it needs topic limits
below the producer's batch size, which slow every batch, not only the poison's).

Time to skip: from the poison's produce to its sentinel's outcome being
visible to a read_committed consumer, beside the same for a sentinel behind a
valid record. The labeler runs in this process (for the injected encoder
failure); the broker, Redis and topics are real.
"""

from __future__ import annotations

import base64
import hashlib
import random
import statistics
import string
import threading
import time
from collections import Counter

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from fault_harness import RecordStream, registry_for, write_figures, write_stream
from test_bad_input_services import raising_features, trained_state

from labeler_support import RunningLabeler, limit_message_bytes
from labelstream.core import router as router_module
from labelstream.core.decode import RecordDecoder
from labelstream.kafka.config import consumer_config, producer_config

pytestmark = pytest.mark.faults

ROUNDS = 2  # each shape struck this many times
GAP_SECONDS = 1.5


class Follower:
    """Reads the outcome topics and the DLQ as they grow; when each id / dead letter was first seen."""

    def __init__(self, settings) -> None:
        topics = settings.topics
        self.dlq = topics.dlq
        self.seen: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.letters: dict[tuple[int, int], dict] = {}
        self.letter_seen: dict[tuple[int, int], float] = {}
        self._consumer = Consumer(consumer_config(settings.kafka, "poison-follower", **{"fetch.wait.max.ms": 5}))
        assignment = []
        for topic in (topics.labels, topics.review, topics.deferred, topics.dlq):
            for p in self._consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                assignment.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        self._consumer.assign(assignment)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(1000, 0.05):
                if msg.error() is not None:
                    continue
                now = time.time()
                value = orjson.loads(msg.value())
                if msg.topic() == self.dlq:
                    where = (value["partition"], value["offset"])
                    self.letters[where] = value
                    self.letter_seen.setdefault(where, now)
                else:
                    self.counts[value["id"]] += 1
                    self.seen.setdefault(value["id"], now)
        self._consumer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def random_text(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters) for _ in range(n))  # lz4 cannot shrink it


def valid(record_id: str) -> bytes:
    return orjson.dumps({"id": record_id, "features": {"x0": 0.3, "x1": -1.2, "x2": 0.5, "x3": 0.1, "colour": "red"}})


def shapes(crashing_features: dict, round_: int) -> dict[str, tuple[bytes, bytes | None, str, bool]]:
    """shape -> (value, key, expected dead-letter kind, carried by reference)."""
    r = round_
    return {
        "valid (baseline)": (valid(f"plain{r}"), f"plain{r}".encode(), "", False),
        "undecodable": (bytes(random.Random(r).randrange(256) for _ in range(300)), None, "invalid_json", False),
        "near the broker's size limit": (
            b'{"id": "huge%d", "features": {"x0": 1}, "text": "' % r + b"h" * 1_000_000 + b'"}', None, "too_large", True
        ),
        "crashes the model": (
            orjson.dumps({"id": f"crash{r}", "features": crashing_features}), f"crash{r}".encode(), "model_error", False
        ),
        "crashes the encoder": (valid(f"encoder-poison{r}"), f"encoder-poison{r}".encode(), "encode_error", False),
        # Over limits.max_record_bytes, under dead_letter_inline_bytes: a letter the DLQ topic (100 kB) refuses whole.
        "dead letter refused by the DLQ": (b"[" + random_text(200_000, r + 10).encode(), None, "too_large", True),
    }


def poison_encoder(monkeypatch) -> None:
    """The injected failure: every encoder raises for ids starting with ``encoder-poison``."""

    def poisoned(encode):
        def wrapper(*args, **kwargs):
            if any(isinstance(a, str) and a.startswith("encoder-poison") for a in args[:2]):
                raise ValueError("injected: cannot encode")
            return encode(*args, **kwargs)

        return wrapper

    for name in ("encode_label", "encode_review", "encode_deferred"):
        monkeypatch.setattr(router_module, name, poisoned(getattr(router_module, name)))


def test_poison_pills_mid_stream_are_skipped_and_every_other_record_routed(settings_factory, tmp_path, monkeypatch):
    settings = settings_factory(model={"name": "hoeffding_adaptive_tree"})
    topics = settings.topics
    limit_message_bytes(settings, [topics.dlq], 100_000)
    train = tmp_path / "train.csv"
    write_stream(train, 1500, seed=3)
    state = trained_state(settings, train)
    registry_for(settings).publish(state)
    crashing = raising_features(settings, state)[0]  # the tree's Gaussian estimators overflow on it
    poison_encoder(monkeypatch)
    payloads, _truth = write_stream(tmp_path / "stream.csv", 10_000, seed=5, prefix="s")  # ~33 s at 300/s
    decoder = RecordDecoder.from_limits(settings.limits)

    struck: list[dict] = []
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
    with RunningLabeler(settings) as labeler:
        follower = Follower(settings).start()
        stream = RecordStream(settings, list(payloads.values()), rate=300).start()
        time.sleep(3)
        for round_ in range(ROUNDS):
            for index, (shape, (value, key, kind, by_reference)) in enumerate(shapes(crashing, round_).items()):
                partition = (round_ + index) % 3
                sentinel = f"sentinel-{round_}-{index}"
                offsets: list[int] = []
                at = time.time()
                producer.produce(topics.records, value=value, key=key, partition=partition,
                                 on_delivery=lambda _err, msg, offsets=offsets: offsets.append(msg.offset()))
                producer.produce(topics.records, value=valid(sentinel), key=sentinel.encode(), partition=partition)
                assert producer.flush(30) == 0
                struck.append({"shape": shape, "value": value, "kind": kind, "by_reference": by_reference, "at": at,
                               "partition": partition, "offset": offsets[0], "sentinel": sentinel})
                time.sleep(GAP_SECONDS)
        stream.join(120)
        valid_ids = set(payloads) | {s["sentinel"] for s in struck} | {
            orjson.loads(s["value"])["id"] for s in struck if not s["kind"]
        }
        n_letters = sum(1 for s in struck if s["kind"])
        deadline = time.monotonic() + 120
        while (set(follower.seen) < valid_ids or len(follower.letters) < n_letters) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a duplicate would show now
        follower.stop()
        assert labeler.loop.state.started and labeler.liveness()[0]
        retries = {r: labeler.metrics.value("labelstream_batch_retries_total", reason=r) for r in ("poison", "bisect")}

    # Every valid record: exactly one outcome; no other id has any.
    assert set(follower.seen) == valid_ids, sorted(valid_ids - set(follower.seen))[:5]
    assert [i for i, n in follower.counts.items() if n > 1] == []
    # Every poison: exactly one dead letter, where it came from, with its reason.
    assert len(follower.letters) == n_letters
    skip: dict[str, list[float]] = {}
    for s in struck:
        skip.setdefault(s["shape"], []).append(follower.seen[s["sentinel"]] - s["at"])
        if not s["kind"]:
            continue
        letter = follower.letters[(s["partition"], s["offset"])]
        expected_kind = s["kind"] if s["shape"] != "undecodable" else decoder.decode(s["value"]).kind
        assert (letter["error_kind"], letter["truncated"]) == (expected_kind, s["by_reference"]), (s["shape"], letter["error"])
        assert letter["size"] == len(s["value"]) and letter["sha256"] == hashlib.sha256(s["value"]).hexdigest()
        assert s["value"].startswith(base64.b64decode(letter["raw"]))
    assert retries["poison"] + retries["bisect"] >= ROUNDS  # the refused outcomes were found by the loop
    figures = {
        "records": len(valid_ids),
        "poisons": n_letters,
        "lost": len(valid_ids - set(follower.seen)),
        "duplicated": sum(1 for n in follower.counts.values() if n > 1),
        "skip_seconds": {shape: round(statistics.median(times), 3) for shape, times in skip.items()},
        "skip_seconds_max": {shape: round(max(times), 3) for shape, times in skip.items()},
        "retries": retries,
    }
    print("poison pills:", figures)
    write_figures("poison_pills", figures)
    assert max(max(times) for times in skip.values()) < 60, figures["skip_seconds_max"]  # a stall, not a speed goal
