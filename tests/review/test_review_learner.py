"""The learner with the review service's corrections: one label learned per item, unknown labels refused."""

from __future__ import annotations

import time

import orjson
import pytest
import redis
from confluent_kafka import Producer
from review_support import review_sections, wait_for

from labelstream.core.schemas import Correction
from labelstream.kafka.config import producer_config
from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.reader import read_all
from labelstream.processes import service
from labelstream.store.models import ModelRegistry
from labelstream.store.records import RecordStore, StoredRecord

pytestmark = pytest.mark.integration


def stored(record_id: str) -> StoredRecord:
    return StoredRecord(record_id, {"x": 1.0, "y": -0.5}, "review", "uncertain", {"cat": 0.6, "dog": 0.4}, 1.0, None, time.time())


def test_the_learner_learns_answers_and_consensus_not_overlap_answers_or_retractions(settings_factory, tmp_path):
    """Also the schema-evolution rule for corrections: a newer writer's minor version and extra field are learned."""
    settings = settings_factory(**review_sections())
    client = redis.Redis.from_url(settings.redis.url)
    RecordStore.from_settings(client, settings).put_many([stored("a1"), stored("o1"), stored("m1"), stored("e1"), stored("e2")])
    corrections = [
        Correction(id="a1", label="cat", reviewer="ana", answer_id="a1#1"),
        Correction(id="o1", label="cat", reviewer="ana", answer_id="o1#1", kind="overlap"),
        Correction(id="o1", label="dog", reviewer="bob", answer_id="o1#2", kind="overlap"),
        Correction(id="o1", label="dog", reviewer="consensus", answer_id="o1#3", kind="consensus",
                   answers={"ana": "cat", "bob": "dog"}, consolidation="majority", confidence=0.5),
        Correction(id="a1", label="cat", reviewer="ana", answer_id="a1#2", kind="retraction", supersedes="a1#1"),
        Correction(id="m1", label="maybe", reviewer="ana", answer_id="m1#1"),  # a typo: not in the label set
    ]
    # what a newer review service might write: a minor version, a field this release does not know
    newer = {"schema_version": "1.3", "id": "e1", "label": "dog", "reviewer": "ana", "answer_id": "e1#1",
             "rubric": {"version": 3}, "kind": "answer"}
    major_2 = {"schema_version": "2.0", "id": "e2", "label": "dog", "reviewer": "ana", "answer_id": "e2#1"}
    values = [correction.model_dump_json().encode() for correction in corrections] + [orjson.dumps(newer), orjson.dumps(major_2)]
    producer = Producer(producer_config(settings.kafka))
    for value in values:
        producer.produce(settings.topics.corrections, key=orjson.loads(value)["id"].encode(), value=value)
    assert producer.flush(30) == 0

    learner = service(settings, "learner", tmp_path / "logs").start()
    try:
        learner.wait_until_serving(90)

        def learned() -> dict | None:
            text = learner.metrics_text()
            counts = {
                line.split('result="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("labelstream_corrections_total{")
            }
            return counts if sum(counts.values()) >= len(values) else None

        counts = wait_for(learned, 90, "every correction handled")
    finally:
        learner.stop(20)
    assert counts == {"learned": 3, "overlap_answer": 2, "retracted": 1, "unknown_label": 1, "unsupported_schema_version": 1}
    ledger = read_ledger(settings)
    assert [(v["label"], v["method"], v["reviewer"]) for v in ledger.human_labels["a1"]] == [("cat", "human", "ana")]
    assert [(v["label"], v["method"], v["confidence"]) for v in ledger.human_labels["o1"]] == [("dog", "consensus", 0.5)]
    assert [(v["label"], v["method"], v["reviewer"]) for v in ledger.human_labels["e1"]] == [("dog", "human", "ana")]
    assert "m1" not in ledger.human_labels and "e2" not in ledger.human_labels
    # sorted: m1 and e2 are on different partitions of corrections, so their dead letters come in either order
    kinds = sorted((d["error_kind"], d["key"] is not None) for d in ledger.dead_letters)
    assert kinds == [("unknown_label", True), ("unsupported_schema_version", True)]
    errors = {d["error_kind"]: d["error"] for d in ledger.dead_letters}  # in either order, as above
    assert "not in the label set" in errors["unknown_label"] and "major version 2" in errors["unsupported_schema_version"]
    versions = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.model_versions)]
    assert versions and versions[-1]["n_learned"] == 3  # a1, o1 and e1 once each


def test_a_corrected_answer_or_recomputed_consensus_is_learned_but_its_record_is_evidence_once(settings_factory, tmp_path):
    """a1: an answer, then the reviewer's correction (retraction + answer superseding it); o1: a consensus, then
    a recomputed one (retraction + consensus superseding it). The model learns all four; the policy's evidence
    holds each record once, and the reviewer-accuracy bound o1's pair once."""
    settings = settings_factory(**review_sections(), policy={"reviewer_accuracy_from_overlap": True})
    client = redis.Redis.from_url(settings.redis.url)
    census = {"outcome": "review", "generation": 0, "threshold": None, "p_review": 1.0}  # evidence of this generation
    records = [StoredRecord(i, {"x": 1.0, "y": -0.5}, "review", "uncertain", {"cat": 0.6, "dog": 0.4}, 1.0, None,
                            time.time(), context=census) for i in ("a1", "o1")]
    RecordStore.from_settings(client, settings).put_many(records)
    corrections = [
        Correction(id="a1", label="cat", reviewer="ana", answer_id="a1#1"),
        Correction(id="a1", label="cat", reviewer="ana", answer_id="a1#2", kind="retraction", supersedes="a1#1"),
        Correction(id="a1", label="dog", reviewer="ana", answer_id="a1#3", supersedes="a1#1"),
        Correction(id="o1", label="cat", reviewer="consensus", answer_id="o1#3", kind="consensus",
                   answers={"ana": "cat", "bob": "cat"}, consolidation="majority", confidence=1.0),
        Correction(id="o1", label="cat", reviewer="consensus", answer_id="o1#5", kind="retraction", supersedes="o1#3"),
        Correction(id="o1", label="dog", reviewer="consensus", answer_id="o1#6", kind="consensus", supersedes="o1#3",
                   answers={"ana": "dog", "bob": "cat"}, consolidation="majority", confidence=0.5),
    ]
    producer = Producer(producer_config(settings.kafka))
    for correction in corrections:
        producer.produce(settings.topics.corrections, key=correction.id.encode(), value=correction.model_dump_json())
    assert producer.flush(30) == 0

    learner = service(settings, "learner", tmp_path / "logs").start()
    try:
        learner.wait_until_serving(90)
        wait_for(lambda: 'labelstream_corrections_total{result="learned"} 4.0' in learner.metrics_text(), 90, "4 learned")
    finally:
        learner.stop(20)
    state = ModelRegistry.from_settings(client, settings).load_latest()
    assert state.model.n_learned == 4  # the model learns the corrected labels (it cannot forget the first ones)
    assert state.policy_state["calibration"]["answers"] == 2  # a1 and o1 once each (was 4: both counted twice)
    assert state.policy_state["reviewer_bound"]["pairs"] == 1  # o1's first pair once (was 2)
    labels = read_ledger(settings).human_labels
    assert [v["label"] for v in labels["a1"]] == ["cat", "dog"] and [v["label"] for v in labels["o1"]] == ["cat", "dog"]
