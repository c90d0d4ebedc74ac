"""Self-training in the services: the learner reads ``labels`` back and learns the sure auto-labels once.

A real learner on the real broker and Redis, ``self_training`` on (score >=
0.9). It learns 40 answers, then reads what a labeler would have published on
``labels``: sure auto-labels (``auto`` and ``weak``) whose features the labeler
kept in Redis, one of them twice (a batch redone after an aborted
transaction), sure ones whose features are not in Redis (the last on each
partition: all is read once they are counted), unsure ones and a human label. Only the sure, joinable ones are learned, each once, as training
(not answers: ``n_learned`` stays 40), and a model version holds them.
(Their offsets go into the snapshots like the corrections' do; a restart test
could not tell them apart from faust's own committed offsets: left out.)
"""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer
from test_labeling_loop import wait_for

from labelstream.core.engine import Routed
from labelstream.core.policy import Decision, Prediction
from labelstream.core.router import Outcome
from labelstream.core.schemas import Correction, Label, Record
from labelstream.kafka.config import producer_config
from labelstream.kafka.reader import read_all
from labelstream.labeler.handler import RoutingHandler
from labelstream.processes import service
from labelstream.store.connection import connect
from labelstream.store.records import RecordStore, StoredRecord

pytestmark = pytest.mark.integration

ANSWERS = 40


def stored(record_id: str, x: float, outcome: str) -> StoredRecord:
    return StoredRecord(record_id, {"x": x, "y": -x / 2}, outcome, "uncertain", {"cat": 0.5, "dog": 0.5}, 1.0, None,
                        time.time())


def auto(record_id: str, confidence: float, method: str = "auto") -> tuple[str, Label]:
    label = "cat" if record_id.startswith("c") else "dog"
    return record_id, Label(id=record_id, label=label, confidence=confidence, method=method, model_version=1)


def produce(settings, topic: str, messages) -> None:
    producer = Producer(producer_config(settings.kafka))
    for key, value in messages:
        producer.produce(topic, key=key.encode(), value=value.model_dump_json().encode())
    assert producer.flush(30) == 0


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def versions(settings) -> list[dict]:
    return [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.model_versions)]


def test_the_learner_learns_each_sure_auto_label_once(settings_factory, tmp_path):
    settings = settings_factory(
        self_training={"enabled": True, "min_confidence": 0.9, "weight": 0.5},
        learner={"publish_every_corrections": 10_000, "publish_every_seconds": 0.5},
    )
    answered = [stored(f"t{i}", 1.0 if i % 2 else -1.0, "review") for i in range(ANSWERS)]
    sure = ["c1", "c2", "c3", "d1", "d2", "dw"]  # "dw": a weak label (LF votes and model)
    RecordStore.from_settings(connect(settings.redis), settings).put_many(
        answered + [stored(i, 1.5 if i.startswith("c") else -1.5, "label") for i in [*sure, "c8", "c9"]])
    produce(settings, settings.topics.corrections,
            [(r.id, Correction(id=r.id, label="cat" if r.features["x"] > 0 else "dog", reviewer="ana")) for r in answered])

    learner = service(settings, "learner", tmp_path / "logs").start()
    try:
        learner.wait_until_serving(90)
        wait_for(lambda: (v := versions(settings)) and v[-1]["n_learned"] == ANSWERS, 90, "the answers learned")
        published = len(versions(settings))
        labels = [
            *(auto(i, 0.97) for i in sure[:-1]), auto("dw", 0.95, "weak"),
            auto("c1", 0.97),                                     # read again: a redone batch
            auto("c7", 0.99),                                     # sure, but its features are not in Redis
            auto("c8", 0.8), auto("c9", 0.89),                    # not sure enough
            ("d1", Label(id="d1", label="cat", confidence=1.0, method="human", reviewer="ana")),  # an answer's echo
        ]
        produce(settings, settings.topics.labels, labels)
        producer = Producer(producer_config(settings.kafka))
        for partition in range(settings.topics.partitions):  # last on each partition: sure, not joinable
            producer.produce(settings.topics.labels, key=f"c-end{partition}".encode(), partition=partition,
                             value=auto(f"c-end{partition}", 0.99)[1].model_dump_json().encode())
        assert producer.flush(30) == 0

        text = wait_for(lambda: (t := learner.metrics_text())
                        and metric(t, "labelstream_self_training_unjoinable_total") == 1 + settings.topics.partitions
                        and t, 60, "every label read")
        assert metric(text, "labelstream_self_training_learned_total") == len(sure)
        assert metric(text, "labelstream_self_training_paused_total") == 0
        latest = wait_for(lambda: len(v := versions(settings)) > published and v[-1], 30, "a version holding them")
        assert latest["n_learned"] == ANSWERS  # self-taught examples are not answers (the cold start counts those)
    finally:
        learner.stop(20)


def test_the_labeler_keeps_the_features_of_its_sure_auto_labels(settings_factory):
    settings = settings_factory(create=False)
    store = RecordStore.from_settings(connect(settings.redis), settings)
    handler = RoutingHandler(None, store, None, None, store_auto_from=0.9)  # storing needs none of the others
    outputs = [outcome("sure", "label", 0.95), outcome("unsure", "label", 0.85), outcome("asked", "review", 0.6)]
    try:
        handler.prepare(outputs)()
    finally:
        handler.close()
    assert [store.get(i) is not None for i in ("sure", "unsure", "asked")] == [True, False, True]
    assert store.get("sure").features == {"x": 1.5}


def outcome(record_id: str, kind: str, confidence: float) -> Outcome:
    prediction = Prediction({"cat": confidence, "dog": 1 - confidence}, "cat", confidence)
    routed = Routed(Record(id=record_id, features={"x": 1.5}), prediction, Decision(kind, "confident" if kind == "label" else "uncertain"))
    return Outcome("t", record_id.encode(), b"", kind, routed.decision.reason, routed, None, None, time.time(), 1)
