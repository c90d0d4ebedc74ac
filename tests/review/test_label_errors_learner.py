"""The learner with label-error detection on: a contradicted answer is held, sent for a second review, learned once.

A real learner on the real broker and Redis. It learns 60 answers of a separable
problem (x = +1 is cat, x = -1 is dog), then gets a wrong answer ("dog" for an
x = +1 record). It must hold that answer (not learn it, no human label), ask
for a second review on ``review`` (reason ``disagreement``, the flagged answer
attached), and learn the second review's consensus once, as training only.

It is killed with -9 before any model version holds those answers (it
publishes none), and restarted with a detector that would no longer flag the
answer (``min_confidence = 0.999``): the replay must hold it again all the
same (the hold is in Redis, written before the request was sent), or it
would be learned alone and then again in its consensus.
"""

from __future__ import annotations

import time
from dataclasses import replace

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

TRAINING = 60


def stored(record_id: str, x: float) -> StoredRecord:
    return StoredRecord(record_id, {"x": x, "y": -x / 2}, "review", "uncertain", {"cat": 0.5, "dog": 0.5}, 1.0, None, time.time())


def produce(settings, corrections: list[Correction]) -> None:
    producer = Producer(producer_config(settings.kafka))
    for correction in corrections:
        producer.produce(settings.topics.corrections, key=correction.id.encode(), value=correction.model_dump_json().encode())
    assert producer.flush(30) == 0


def counters(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith(name):
            labels = line.split("{", 1)[1].split("}", 1)[0] if "{" in line else ""
            found[labels] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_contradicted_answer_is_held_reviewed_again_and_its_consensus_learned_once(settings_factory, tmp_path):
    settings = settings_factory(
        **review_sections(), label_errors={"enabled": True, "min_answers": 10, "min_confidence": 0.7},
        learner={"publish_every_corrections": 10_000, "publish_every_seconds": 3600},  # no model version yet
    )
    client = redis.Redis.from_url(settings.redis.url)
    records = [stored(f"t{i}", 1.0 if i % 2 else -1.0) for i in range(TRAINING)] + [stored("w1", 1.0)]
    RecordStore.from_settings(client, settings).put_many(records)
    training = [Correction(id=r.id, label="cat" if r.features["x"] > 0 else "dog", reviewer="ana", answer_id=f"{r.id}#1")
                for r in records[:TRAINING]]
    produce(settings, [*training, Correction(id="w1", label="dog", reviewer="bob", answer_id="w1#1")])

    learner = service(settings, "learner", tmp_path / "logs").start()
    try:
        learner.wait_until_serving(90)

        def handled() -> dict | None:
            counts = counters(learner.metrics_text(), "labelstream_corrections_total{")
            return counts if sum(counts.values()) >= TRAINING + 1 else None

        counts = wait_for(handled, 90, "every answer handled")
        assert counts == {'result="learned"': TRAINING, 'result="held_for_second_review"': 1}, counts
        assert counters(learner.metrics_text(), "labelstream_label_errors_flagged_total") == {"": 1.0}
        requests = wait_for(lambda: [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.review)],
                            30, "the second-review request")
        assert [(r["id"], r["reason"], r["flagged_answer"]["answer_id"], r["flagged_answer"]["label"],
                 r["flagged_answer"]["suggested_label"]) for r in requests] == [("w1", "disagreement", "w1#1", "dog", "cat")]

        # killed with -9: no model version holds any of it, every answer is replayed
        learner.kill()
        assert not list(read_all(settings.kafka, settings.topics.model_versions))
        strict = settings.model_copy(update={
            "label_errors": settings.label_errors.model_copy(update={"min_confidence": 0.999}),
            "learner": settings.learner.model_copy(update={"publish_every_corrections": 20, "publish_every_seconds": 0.5}),
        })
        learner = service(strict, "learner", tmp_path / "logs2").start()
        learner.wait_until_serving(90)
        counts = wait_for(handled, 90, "every answer replayed")
        assert counts == {'result="learned"': TRAINING, 'result="held_for_second_review"': 1}, counts
        consensus = Correction(id="w1", label="cat", reviewer="consensus", answer_id="w1#4", kind="consensus",
                               answers={"bob": "dog", "cyd": "cat", "dan": "cat"}, consolidation="majority",
                               confidence=2 / 3, adjudicated=True)
        produce(settings, [consensus])
        resolved = wait_for(
            lambda: (found := counters(learner.metrics_text(), "labelstream_label_errors_resolved_total{"))
            and found.get('result="overturned"') == 1.0 and found,
            90, "the second review resolved",
        )
        assert resolved == {'result="confirmed"': 0.0, 'result="overturned"': 1.0}
    finally:
        learner.stop(20)

    ledger = read_ledger(settings)
    assert [(v["label"], v["method"]) for v in ledger.human_labels["w1"]] == [("cat", "consensus")]  # never "dog"
    versions = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.model_versions)]
    assert versions[-1]["n_learned"] == TRAINING + 1  # the held answer never, its consensus once
    requests = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.review)]
    assert [r["flagged_answer"]["answer_id"] for r in requests] == ["w1#1", "w1#1"]  # asked again: the queue ignores it


def test_a_held_answer_superseded_by_another_held_answer_is_evidence_once(settings_factory, tmp_path):
    """Undone (or corrected) and answered again, both flagged: two holds, two second-review requests, but the
    record's evidence counts once, as for any superseding answer (Correction.counted_before)."""
    settings = settings_factory(
        **review_sections(), label_errors={"enabled": True, "min_answers": 10, "min_confidence": 0.7},
        learner={"publish_every_corrections": 20, "publish_every_seconds": 0.5},
    )
    # routed for review with probability 1: evidence of generation 0
    reviewed = {"outcome": "review", "generation": 0, "threshold": None, "p_review": 1.0, "p_least": 1.0}
    records = [replace(stored(f"t{i}", 1.0 if i % 2 else -1.0), context=reviewed) for i in range(TRAINING)]
    records += [replace(stored("w1", 1.0), context=reviewed), replace(stored("z", -1.0), context=reviewed)]
    RecordStore.from_settings(redis.Redis.from_url(settings.redis.url), settings).put_many(records)
    training = [Correction(id=r.id, label="cat" if r.features["x"] > 0 else "dog", reviewer="ana", answer_id=f"{r.id}#1")
                for r in records[:TRAINING]]
    produce(settings, [
        *training,
        Correction(id="w1", label="dog", reviewer="bob", answer_id="w1#1"),
        Correction(id="w1", label="dog", reviewer="bob", answer_id="w1#2", kind="retraction", supersedes="w1#1"),
        Correction(id="w1", label="dog", reviewer="bob", answer_id="w1#3", supersedes="w1#1"),  # after the undo
        Correction(id="z", label="dog", reviewer="ana", answer_id="z#1"),  # learned: a version after the holds
    ])
    learner = service(settings, "learner", tmp_path / "logs").start()
    try:
        learner.wait_until_serving(90)
        counts = wait_for(
            lambda: (found := counters(learner.metrics_text(), "labelstream_corrections_total{"))
            and sum(found.values()) >= TRAINING + 4 and found, 90, "every answer handled",
        )
        assert counts == {'result="learned"': TRAINING + 1, 'result="held_for_second_review"': 2, 'result="retracted"': 1}
        registry = ModelRegistry.from_settings(redis.Redis.from_url(settings.redis.url), settings)
        evidence = wait_for(
            lambda: (state := registry.load_latest()) is not None
            and state.metrics["corrections_applied"] == TRAINING + 1 and state.policy_state["calibration"]["answers"],
            30, "a version holding every answer",
        )
        assert evidence == TRAINING + 2  # the training answers, z, and w1 once (it was twice: each hold added its answer)
    finally:
        learner.stop(20)
