"""The handler's batch-wide work done in C or by comprehensions (origins, counts after a commit, offsets, the records stored): as the loops a message did it."""

from __future__ import annotations

import random
from collections import Counter

from confluent_kafka import Message

from labelstream.core.engine import Routed
from labelstream.core.policy import Decision, Prediction
from labelstream.core.router import DEAD_LETTER, Outcome
from labelstream.core.schemas import Record
from labelstream.labeler.handler import RoutingHandler, _origin, _origins
from labelstream.store.records import StoredRecord


def test_origins_are_those_of_each_message():
    messages = [
        Message(topic=f"t{i % 2}", partition=i % 3, offset=10**12 + i, value=b"v", timestamp=(i % 3, 1_764_500_000_123 + i))
        for i in range(50)
    ]
    made = _origins(messages)
    assert made == [_origin(m) for m in messages]
    assert all(type(o) is type(_origin(messages[0])) for o in made)
    assert [o.timestamp for o in made[:3]] == [None, 1_764_500_000.124, 1_764_500_000.125]


class Recorder:
    """Every metrics call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *[dict(a) if isinstance(a, dict) else a for a in args]))


class NoStore:
    def __init__(self) -> None:
        self.queued: list[tuple] = []

    def count_and_queue(self, reviews: int, deferred: dict) -> None:
        self.queued.append((reviews, dict(deferred)))


class NoDrift:
    def handle(self, engine) -> None:
        pass


class Router:
    engine = None


def outcomes(rng: random.Random, n: int) -> list[Outcome]:
    made = []
    for i in range(n):
        kind = rng.choice(["label", "label", "review", "deferred", DEAD_LETTER])
        if kind == DEAD_LETTER:
            made.append(Outcome("dlq", b"k", b"v", DEAD_LETTER, rng.choice(["invalid_json", "duplicate_id"]), event_time=1.0))
            continue
        label = rng.choice(["cat", "dog", None])
        routed = Routed(Record(id=f"r{i}", features={"x": 1.0}), Prediction({"cat": 0.5, "dog": 0.5}, label, 0.5),
                        Decision(kind, rng.choice(["confident", "audit", "uncertain"])))
        made.append(Outcome("t", b"k", b"v", kind, routed.decision.reason, routed, None, 2.0, 3.0 + i, 1, rng.random() < 0.1))
    return made


def reference_counts(outputs: list[Outcome]) -> tuple:
    """The counting loop a record the handler had before."""
    counted: Counter = Counter()
    auto_classes: Counter = Counter()
    invalid: Counter = Counter()
    evolved = 0
    for output in outputs:
        evolved += output.evolved
        if output.outcome == DEAD_LETTER:
            invalid[output.reason] += 1
            continue
        counted[(output.outcome, output.reason)] += 1
        if output.outcome == "label":
            auto_classes[output.routed.prediction.label or ""] += 1
    deferred = {o.routed.record.id: o.routed_at for o in outputs if o.outcome == "deferred" and o.routed is not None}
    return list(counted.items()), list(auto_classes.items()), list(invalid.items()), evolved, deferred


def test_counts_after_a_commit_are_those_of_the_loop_a_record_in_the_same_order():
    rng = random.Random(3)
    for n in (0, 1, 7, 300):
        outputs = outcomes(rng, n)
        metrics, store = Recorder(), NoStore()
        handler = RoutingHandler(Router(), store, metrics, NoDrift())
        try:
            handler.committed([], outputs, 0.5)
        finally:
            handler.close()
        calls = {call[0]: call[1:] for call in metrics.calls}
        counted, auto_classes, invalid, evolved, deferred = reference_counts(outputs)
        assert list(calls["record_outcomes"][0].items()) == counted
        assert list(calls["record_auto_labels"][0].items()) == auto_classes
        assert [call[1:] for call in metrics.calls if call[0] == "record_invalid"] == invalid
        assert calls.get("record_evolved", (0,))[0] == evolved
        reviews = sum(n for (kind, _), n in counted if kind == "review")
        assert store.queued == ([(reviews, deferred)] if reviews or deferred else [])


class KeepStore:
    """Records the StoredRecords put, as put_many gets them."""

    def __init__(self) -> None:
        self.put: list = []

    def put_many(self, records, count_reviews=True, queue_deferred=True) -> None:
        self.put += records


def reference_stored(outputs: list[Outcome], store_auto_labeled: bool, store_auto_from: float | None) -> list[StoredRecord]:
    """The test a record and the StoredRecord(...) call the handler had before."""
    threshold = 2.0 if store_auto_from is None else store_auto_from
    stored = []
    for o in outputs:
        if o.routed is None or not (o.outcome != "label" or store_auto_labeled or o.routed.prediction.confidence >= threshold):
            continue
        record, prediction, decision = o.routed.record, o.routed.prediction, o.routed.decision
        stored.append(StoredRecord(
            id=record.id, features=record.features, outcome=decision.outcome, reason=decision.reason,
            probabilities=prediction.probabilities, inclusion_probability=decision.inclusion_probability,
            model_version=o.model_version, routed_at=o.routed_at, record_json=o.record_json, context=decision.context,
        ))
    return stored


def test_the_records_stored_before_the_commit_are_those_of_the_test_a_record_byte_for_byte():
    rng = random.Random(5)
    for store_auto_labeled, store_auto_from in ((False, None), (True, None), (False, 0.9), (False, 0.4), (False, 1.0)):
        for n in (0, 1, 7, 63, 64, 300):  # below STORE_INLINE_MAX: stored at once; from it on, on the writer thread
            outputs = outcomes(rng, n)
            for o in outputs:
                if o.routed is not None:  # confidences on both sides of the thresholds
                    confidence = rng.choice([0.3, 0.5, 0.9, 0.95, 1.0])
                    prediction = Prediction({"cat": confidence, "dog": 1 - confidence}, o.routed.prediction.label, confidence)
                    o.routed = Routed(o.routed.record, prediction, o.routed.decision)
                    o.record_json = b'{"id": "x", "features": {"x": 1.0}}' if rng.random() < 0.5 else None
            store = KeepStore()
            handler = RoutingHandler(Router(), store, Recorder(), NoDrift(), store_auto_labeled, store_auto_from=store_auto_from)
            try:
                handler.prepare(outputs)()
            finally:
                handler.close()
            expected = reference_stored(outputs, store_auto_labeled, store_auto_from)
            assert store.put == expected
            assert [type(r) for r in store.put] == [StoredRecord] * len(expected)
            assert [r.to_json() for r in store.put] == [r.to_json() for r in expected]
