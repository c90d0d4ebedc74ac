"""Calibration generations across processes (issue #11, D3): two labelers and a learner, real processes.

Only the learner opens a generation; labelers adopt it from its snapshots. A labeler's own drift
(here: the predicted class shares jump when the records' features go blank) raises its audits but never moves
its generation, so it cannot run ahead of the learner and miss the learner's next generation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import defaultdict

import orjson
import pytest

from labelstream.kafka.reader import read_all
from labelstream.processes import ServiceProcess, service
from labelstream.produce import produce_file
from labelstream.settings import settings_to_env
from labelstream.simulate.datasets import export_dataset
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

pytestmark = pytest.mark.integration

# Sensitive labeler-side detectors whose drifts reach the policy (the predicted class share jumps when
# the features go blank); no challenger, so that the only generations are the learner's calibration
# checks and the rollback this test asks for.
DRIFT = {
    "prediction_warmup": 100, "prediction_delta": 0.01, "clock": 8, "challenger": False, "features": False,
    "class_share_of": "predictions", "notify_policy_on": ("error", "confidence", "class_share"),
}


def generation(proc: ServiceProcess) -> int:
    found = re.search(r"^labelstream_calibration_generation (\S+)$", proc.metrics_text(), re.MULTILINE)
    return int(float(found.group(1))) if found else -1


def generations(procs: list[ServiceProcess]) -> list[int]:
    return [generation(p) for p in procs]


def wait_agreed(learner: ServiceProcess, labelers: list[ServiceProcess], at_least: int, timeout: float = 180) -> list[int]:
    """Until both labelers show the learner's generation (>= ``at_least``); the last readings."""
    deadline = time.monotonic() + timeout
    while True:
        seen = generations([learner, *labelers])
        if seen[0] >= at_least and len(set(seen)) == 1:
            return seen
        if time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def live_learned(labelers: list[ServiceProcess], registry: ModelRegistry) -> int:
    """The answers learned by the least-trained model the labelers run (0: one runs none yet)."""
    learned = []
    for labeler in labelers:
        version = (labeler.health() or {}).get("model_version") or 0
        state = registry.load(version) if version else None
        learned.append(state.model.n_learned if state is not None else 0)
    return min(learned)


def events(settings) -> list[dict]:
    return [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.events)]


def routed_by_partition(settings) -> dict[int, list[int]]:
    """The generation each review request was routed under, per partition, in order."""
    per_partition: dict[int, list[int]] = defaultdict(list)
    for msg in read_all(settings.kafka, settings.topics.review):
        context = orjson.loads(msg.value()).get("context", {})
        if "generation" in context:
            per_partition[msg.partition()].append(int(context["generation"]))
    return per_partition


def routed_generations(settings) -> list[int]:
    return [g for seen in routed_by_partition(settings).values() for g in seen]


def test_generations_are_the_learners_monotone_and_shared(settings_factory, tmp_path):
    settings = settings_factory(drift=DRIFT)
    data = tmp_path / "phishing.csv"
    export_dataset("phishing", data)
    header, *rows = data.read_text().splitlines(keepends=True)
    blank = []
    for row in rows[700:]:  # same ids and labels, every feature 0: the model's confidence falls
        cells = row.rstrip("\n").split(",")
        blank.append(",".join([cells[0], *("0" for _ in cells[1:-1]), cells[-1]]) + "\n")
    first, baseline, shifted, last, tail = (
        tmp_path / f"{name}.csv" for name in ("first", "baseline", "shifted", "last", "tail"))
    first.write_text(header + "".join(rows[:500]))
    baseline.write_text(header + "".join(rows[500:700]))
    shifted.write_text(header + "".join(blank[:400]))
    last.write_text(header + "".join(blank[400:500]))
    tail.write_text(header + "".join(blank[500:]))

    learner = service(settings, "learner", tmp_path)
    labelers = [service(settings, "labeler", tmp_path, instance=str(n)) for n in range(2)]
    reviewer = service(settings, "reviewer-sim", tmp_path, "--data", str(data), "--label-column", "label", "--id-column", "id")
    procs = [learner, *labelers, reviewer]
    registry = ModelRegistry.from_settings(connect(settings.redis), settings)
    try:
        for proc in procs:
            proc.start()
        for proc in (learner, *labelers):
            proc.wait_until_serving()
        produce_file(settings, first, id_column="id", label_column="label", rate=400)
        # The features go blank only once both labelers predict with a model that learned: on a loaded machine
        # they can route all the records before the first answers are learned, and an untrained model's
        # predictions do not change when the features go blank (no drift to see).
        deadline = time.monotonic() + 180
        while (learned := live_learned(labelers, registry)) < 200:
            assert time.monotonic() < deadline, f"the labelers' models learned {learned} answers, not 200, in 180 s"
            time.sleep(0.5)
        produce_file(settings, baseline, id_column="id", label_column="label", rate=200)
        produce_file(settings, shifted, id_column="id", label_column="label", rate=200)

        deadline = time.monotonic() + 180
        while not any(e["kind"] == "drift" and e["service"] == "labeler" and "policy" in e["detail"].get("reactions", [])
                      for e in events(settings)) and time.monotonic() < deadline:
            time.sleep(1)
        own = [e for e in events(settings) if e["kind"] == "drift" and e["service"] == "labeler"]
        assert any("policy" in e["detail"]["reactions"] for e in own), f"no labeler drift reached its policy: {own}"

        # The labelers' own drifts called policy.on_drift, yet they show the learner's generation, not one ahead.
        before = wait_agreed(learner, labelers, at_least=0)
        assert len(set(before)) == 1, f"learner, labeler-0, labeler-1 generations after the labelers' drifts: {before}"

        env = {**os.environ, **settings_to_env(settings)}
        for _attempt in range(3):  # the learner publishes fast and prunes old versions: roll back to the newest
            target = registry.latest_version()
            cli = subprocess.run([sys.executable, "-m", "labelstream", "models", "rollback", str(target), "--reason", "test"],
                                 env=env, capture_output=True, text=True, check=False)
            if cli.returncode == 0:
                break
        assert cli.returncode == 0, f"rollback to {target} (kept: {registry.versions()}): {cli.stderr}"
        produce_file(settings, last, id_column="id", label_column="label", rate=100)

        # The rollback is a learner-opened generation: it reaches both labelers.
        after = wait_agreed(learner, labelers, at_least=before[0] + 1)
        assert after[0] > before[0] and len(set(after)) == 1, f"generations before {before}, after the rollback {after}"
        produce_file(settings, tail, id_column="id", label_column="label", rate=200)
        deadline = time.monotonic() + 120
        while max(routed_generations(settings), default=-1) < after[0] and time.monotonic() < deadline:
            time.sleep(1)
        assert all(p.alive for p in procs)
        learners_last = generation(learner)  # the learner may open later generations (calibration checks)
    finally:
        for proc in procs:
            proc.stop()

    # Each partition is routed by one labeler in order: the generations it routed under never go back,
    # and none is ahead of the learner's.
    per_partition = routed_by_partition(settings)
    assert per_partition, "no review request carried its routing generation"
    for partition, seen in per_partition.items():
        assert seen == sorted(seen), f"partition {partition} went back a generation: {seen}"
        assert max(seen) <= learners_last, f"partition {partition} routed ahead of the learner ({learners_last}): {seen}"
    assert max(max(seen) for seen in per_partition.values()) >= after[0], "records were routed under the new generation"
