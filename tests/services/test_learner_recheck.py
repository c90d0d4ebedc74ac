"""The recheck in the learner process (policy.version_recheck, docs/contract.md "The recheck").

A real learner process on the test's Kafka and Redis. Answered records are put in the record store as a labeler
would leave them (reviewed uniformly, probability 1, generation 0; the stored prediction is what the evidence
tests) and their corrections sent to ``corrections``, so the test decides both what the calibrator proves and
what the learner's model learns.

- A learner killed and restarted keeps the answers its recheck re-scores (stored beside each version,
  :mod:`labelstream.store.recheck_answers`): its next version still validates the thresholds, where before it
  had no answer to re-score and withdrew them all.
- A version whose model slid under a proven threshold is published with that class withdrawn, and a labeler
  adopting it stops auto-labeling the class.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from services_support import learner_and_labeler, metric

from labelstream.core.build import build_engine
from labelstream.core.schemas import Correction
from labelstream.kafka.config import producer_config
from labelstream.kafka.reader import read_all
from labelstream.processes import ServiceProcess, service, stop_all
from labelstream.produce import produce_file
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from labelstream.store.records import RecordStore, StoredRecord

pytestmark = pytest.mark.integration

CONTEXT = {"outcome": "review", "generation": 0, "model_version": 0, "threshold": None,
           "p_review": 1.0, "p_least": 1.0, "p_audit": 1.0, "p_floor": 1.0}


def answer(settings: Settings, ids: list[str], xs: list[float], predicted: list[str], labels: list[str]) -> None:
    """Store the records as reviewed (predicted at a score from 0.55 to 0.99, higher further from 0) and send
    their answers, one correction each."""
    store = RecordStore.from_settings(connect(settings.redis), settings)
    store.put_many([
        StoredRecord(i, {"x": x}, "review", "cold_start", {p: score(x), "b" if p == "a" else "a": 1 - score(x)}, 1.0,
                     0, time.time(), context=dict(CONTEXT))
        for i, x, p in zip(ids, xs, predicted, strict=True)
    ], count_reviews=False, queue_deferred=False)
    producer = Producer(producer_config(settings.kafka))
    for i, label in zip(ids, labels, strict=True):
        correction = Correction(id=i, label=label, answer_id=f"{i}#1")
        producer.produce(settings.topics.corrections, key=i.encode(), value=correction.model_dump_json())
    assert producer.flush(30) == 0


def score(x: float) -> float:
    return round(0.55 + 0.44 * min(max((abs(x) - 0.3) / 0.7, 0.0), 1.0), 3)


def wait_version(settings: Settings, done: Callable[[dict], bool], timeout: float = 60) -> dict:
    """The latest version's policy state, once ``done`` holds for it (else the last one read, for the message)."""
    registry = ModelRegistry.from_settings(connect(settings.redis), settings)
    deadline, state = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = registry.load_latest()
        if state is not None and done({**state.policy_state, "corrections": state.metrics["corrections_applied"]}):
            return {**state.policy_state, "corrections": state.metrics["corrections_applied"]}
        time.sleep(0.3)
    return {} if state is None else {**state.policy_state, "corrections": state.metrics["corrections_applied"]}


def in_force(settings: Settings, label: str) -> tuple[float | None, float | None]:
    """(proven, in force) threshold of ``label`` under the latest version, as a labeler adopting it sees them."""
    state = ModelRegistry.from_settings(connect(settings.redis), settings).load_latest()
    engine = build_engine(settings)
    engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
    return engine.policy.calibrator.threshold(label), engine.policy.threshold(label)


def separable(rng: random.Random, n: int) -> tuple[list[float], list[str]]:
    """``x`` away from 0, class ``a`` above it: a logistic model learns it in a few hundred answers."""
    xs = [rng.choice((-1, 1)) * rng.uniform(0.3, 1.0) for _ in range(n)]
    return xs, ["a" if x > 0 else "b" for x in xs]


def test_a_restarted_learner_keeps_the_answers_its_recheck_validates_with(settings_factory, tmp_path):
    settings = settings_factory(partitions=1, learner={"publish_every_corrections": 100, "publish_every_seconds": 0.5})
    rng = random.Random(7)
    xs, labels = separable(rng, 600)
    learner = service(settings, "learner", tmp_path)
    try:
        learner.start().wait_until_serving()
        answer(settings, [f"r{i}" for i in range(600)], xs, labels, labels)
        state = wait_version(settings, lambda s: s["corrections"] == 600)
        assert state["corrections"] == 600
        assert state["recheck"]["validated"].get("a"), "600 flawless answers validate class a's threshold"
        proven, threshold = in_force(settings, "a")
        assert proven is not None and threshold is not None

        learner.kill()  # no last version at shutdown: the restart resumes from what was published
        learner.start().wait_until_serving()
        xs, labels = separable(rng, 20)
        answer(settings, [f"s{i}" for i in range(20)], xs, labels, labels)
        state = wait_version(settings, lambda s: s["corrections"] == 620)
        assert state["corrections"] == 620, learner.log_tail()
        # The restarted learner's first version is rechecked on the 600 answers kept before the kill, plus 20:
        # without them, 20 answers are far from the ~100 full-weight ones a recheck needs, and "a" was withdrawn.
        assert state["recheck"]["validated"].get("a"), state["recheck"]
        assert in_force(settings, "a")[1] is not None
    finally:
        stop_all([learner])


def produce_records(settings: Settings, path: Path, ids: list[str], xs: list[float]) -> None:
    path.write_text("id,x\n" + "".join(f"{i},{x}\n" for i, x in zip(ids, xs, strict=True)))
    produce_file(settings, path, id_column="id")


def auto_labeled(settings: Settings, prefix: str) -> list[str]:
    """The auto-labels on ``labels`` of the records whose id starts with ``prefix``."""
    labels = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.labels)]
    return [label["label"] for label in labels if label["id"].startswith(prefix) and label["method"] == "auto"]


def test_a_version_that_slid_is_published_with_the_class_withdrawn_and_the_labeler_stops_auto_labeling_it(
    settings_factory, tmp_path
):
    settings = settings_factory(
        partitions=1, learner={"publish_every_corrections": 100, "publish_every_seconds": 0.5},
        policy={"cold_start_records": 0, "cold_start_corrections": 0},
    )
    rng = random.Random(11)
    with learner_and_labeler(settings, tmp_path) as (_learner, labeler):
        xs, labels = separable(rng, 600)
        answer(settings, [f"r{i}" for i in range(600)], xs, labels, labels)
        state = wait_version(settings, lambda s: s["corrections"] == 600)
        assert state["recheck"]["validated"].get("a") and in_force(settings, "a")[1] is not None

        deadline = time.monotonic() + 30  # the labeler adopts a version in force for "a"
        while metric(labeler, 'labelstream_auto_accept_threshold{class="a"}') in (None, math.inf) and time.monotonic() < deadline:
            time.sleep(0.3)
        before = [f"p{i}" for i in range(100)]
        produce_records(settings, tmp_path / "before.csv", before, [rng.uniform(0.6, 1.0) for _ in before])
        deadline = time.monotonic() + 30
        while len(auto := auto_labeled(settings, "p")) < 50 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(auto) >= 50 and set(auto) == {"a"}, "records far above 0 are auto-labeled a"

        # The model slides: more answers above 0, now 60 % a and 40 % b (each predicted right when it was routed,
        # so the calibrator's proofs stand). It still predicts a above 0, at about 0.7, right about 73 % of the time.
        xs = [rng.uniform(0.3, 1.0) for _ in range(600)]
        slid = ["a" if rng.random() < 0.6 else "b" for _ in xs]
        answer(settings, [f"s{i}" for i in range(600)], xs, slid, slid)
        state = wait_version(settings, lambda s: s["corrections"] == 1200 and not s["recheck"]["validated"].get("a"))
        assert state["corrections"] == 1200 and not state["recheck"]["validated"].get("a"), state.get("recheck")
        proven, threshold = in_force(settings, "a")
        assert proven is not None and threshold is None  # proven on the older versions, withdrawn from this one

        deadline = time.monotonic() + 30  # the labeler adopts it
        while metric(labeler, 'labelstream_auto_accept_threshold{class="a"}') != math.inf and time.monotonic() < deadline:
            time.sleep(0.3)
        after = [f"q{i}" for i in range(100)]
        routed = sum(routed_by_outcome(labeler).values())  # before: the labeler may route some while they are sent
        produce_records(settings, tmp_path / "after.csv", after, [rng.uniform(0.6, 1.0) for _ in after])
        deadline = time.monotonic() + 30
        while sum(routed_by_outcome(labeler).values()) < routed + 100 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert sum(routed_by_outcome(labeler).values()) >= routed + 100
        assert auto_labeled(settings, "q") == []


def routed_by_outcome(proc: ServiceProcess) -> dict[str, float]:
    """The labeler's records by (outcome, reason) so far."""
    found = re.findall(r'^labelstream_record_outcomes_total\{([^}]*)\} (\S+)$', proc.metrics_text(), re.MULTILINE)
    return {labels: float(value) for labels, value in found}
