"""Model versions: hot swap into a running labeler, and refusal of tampered snapshots."""

from __future__ import annotations

import os
import pickle
import threading
import time

import orjson
import pytest
from confluent_kafka import Producer
from river import datasets

from labelstream.core.build import build_engine
from labelstream.core.snapshot import MAGIC, ModelState
from labelstream.kafka.config import producer_config
from labelstream.kafka.reader import read_all
from labelstream.processes import service, stop_all
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

pytestmark = pytest.mark.integration


def trained_state(settings, version: int) -> ModelState:
    engine = build_engine(settings)
    for x, y in datasets.Phishing():
        engine.learn(x, str(y))
    return ModelState(model=engine.model, featurizer=engine.featurizer, version=version)


def registry_for(settings) -> ModelRegistry:
    return ModelRegistry.from_settings(connect(settings.redis), settings)


def announce(settings, producer: Producer, announcement_json: bytes) -> float:
    producer.produce(settings.topics.model_versions, key=settings.model.model_name.encode(), value=announcement_json)
    producer.flush(10)
    return time.time()


class RecordStream:
    """Produces Phishing records at a steady rate on a thread until stopped."""

    def __init__(self, settings, rate: float = 200) -> None:
        self.settings, self.rate = settings, rate
        self._stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        producer = Producer(producer_config(self.settings.kafka))
        rows = list(datasets.Phishing())
        while not self._stop.is_set():
            x, _y = rows[self.sent % len(rows)]
            record_id = f"r{self.sent}"
            producer.produce(self.settings.topics.records, key=record_id.encode(), value=orjson.dumps({"id": record_id, "features": x}))
            producer.poll(0)
            self.sent += 1
            time.sleep(1 / self.rate)
        producer.flush(10)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(10)


def outcome_versions(settings) -> list[tuple[float, int | None]]:
    """(timestamp, model_version) of every record the labeler routed (not the learner's human labels: they carry
    the learner's version, which adopts a rollback only at its next publish)."""
    out = []
    for topic in (settings.topics.labels, settings.topics.review, settings.topics.deferred):
        for msg in read_all(settings.kafka, topic):
            value = orjson.loads(msg.value())
            if value.get("method") not in ("human", "consensus"):
                out.append((value["timestamp"], value.get("model_version")))
    return out


def events(settings) -> list[dict]:
    return [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.events)]


def poll_until(condition, timeout: float, what: str, interval: float = 0.25):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(interval)
    return value


def test_new_version_is_live_within_2_seconds_and_tampered_one_is_refused(stack_settings, tmp_path):
    registry = registry_for(stack_settings)
    producer = Producer(producer_config(stack_settings.kafka))
    labeler = service(stack_settings, "labeler", tmp_path, instance="0").start()
    try:
        labeler.wait_until_serving()
        with RecordStream(stack_settings):
            # polls, not sleeps: the labeler is routing before the version comes, and runs it once it came
            poll_until(lambda: outcome_versions(stack_settings), 30, "the labeler routing records")
            announcement = registry.publish(trained_state(stack_settings, version=1))
            published_at = announce(stack_settings, producer, announcement.model_dump_json().encode())
            poll_until(lambda: any(v == 1 for _, v in outcome_versions(stack_settings)), 30, "a record routed by version 1")

            # A snapshot signed with another key: code that would run if it were unpickled.
            marker = tmp_path / "pwned"

            class Exploit:
                def __reduce__(self):
                    return (os.system, (f"touch {marker}",))

            payload = pickle.dumps(Exploit())
            forged = MAGIC + b"\x00" * 32 + payload
            registry.client.set(registry.snapshot_key(2), forged)
            forged_announcement = announcement.model_copy(update={"version": 2, "snapshot_key": registry.snapshot_key(2)})
            tampered_at = announce(stack_settings, producer, forged_announcement.model_dump_json().encode())
            # the refusal is out, and a second of records (~200) was routed after it: by the model it kept
            refused = poll_until(lambda: [e for e in events(stack_settings) if e["kind"] == "model_rejected"], 30,
                                 "the forged version refused")
            after = max(tampered_at + 0.5, refused[0]["timestamp"]) + 1.0
            poll_until(lambda: any(ts > after for ts, _ in outcome_versions(stack_settings)), 30,
                       "records routed a second after the refusal")

        versions = outcome_versions(stack_settings)
        first_v1 = min(ts for ts, v in versions if v == 1)
        assert first_v1 - published_at <= 2.0, f"version 1 live after {first_v1 - published_at:.2f} s"
        after_tamper = [v for ts, v in versions if ts > tampered_at + 0.5]
        assert after_tamper and set(after_tamper) == {1}, "the labeler must keep the previous model"
        assert not marker.exists(), "the forged snapshot was unpickled"

        rejected = [e for e in events(stack_settings) if e["kind"] == "model_rejected"]
        assert rejected and rejected[0]["detail"]["version"] == 2
        assert "signature" in rejected[0]["detail"]["error"]
        assert labeler.alive
    finally:
        labeler.stop()


def test_rollback_brings_an_old_model_back_to_labeler_and_learner(stack_settings, tmp_path):
    import subprocess
    import sys

    from labelstream.produce import produce_file
    from labelstream.settings import settings_to_env
    from labelstream.simulate.datasets import export_dataset

    data = tmp_path / "phishing.csv"
    export_dataset("phishing", data)
    labeler = service(stack_settings, "labeler", tmp_path, instance="0")
    procs = [
        labeler.start(),
        service(stack_settings, "learner", tmp_path).start(),
        service(stack_settings, "reviewer-sim", tmp_path, "--data", str(data), "--label-column", "label", "--id-column", "id").start(),
    ]
    registry = registry_for(stack_settings)
    try:
        for proc in procs[:2]:
            proc.wait_until_serving()
        lines = data.read_text().splitlines(keepends=True)
        first, rest = tmp_path / "first.csv", tmp_path / "rest.csv"
        first.write_text("".join(lines[:601]))
        rest.write_text("".join(lines[:1] + lines[601:]))
        produce_file(stack_settings, first, id_column="id", label_column="label", rate=400)
        per_version = stack_settings.learner.publish_every_corrections

        def far_enough() -> tuple[int, int, int, int] | None:
            """(target, its answers, latest, its answers): the newest kept version (not the first) that learned a
            version's worth less than the latest (on a loaded machine the learner publishes smaller versions, on
            its timer); the newest, so that the learner does not prune it before the rollback loads it."""
            kept, latest = registry.versions(), registry.latest_version()
            latest_learned = registry.load(latest).model.n_learned if latest is not None and len(kept) >= 3 else None
            for version in reversed(kept[1:-1] if latest_learned is not None else []):
                state = registry.load(version)
                if state is not None and latest_learned > state.model.n_learned + per_version:
                    return version, state.model.n_learned, latest, latest_learned
            return None

        target, target_learned, before, before_learned = poll_until(
            far_enough, 180, "a version that learned 50 answers more than an older one", interval=0.5)
        env = {**os.environ, **settings_to_env(stack_settings)}
        cli = subprocess.run(
            [sys.executable, "-m", "labelstream", "models", "rollback", str(target), "--reason", "test"],
            env=env, capture_output=True, text=True, check=False,
        )
        assert cli.returncode == 0, cli.stderr
        rollback = registry.latest_version()
        assert rollback > before
        snapshot = registry.load(rollback)
        assert snapshot.metrics["rollback_of"] == target
        assert snapshot.model.n_learned == target_learned

        # the labeler adopts it (how fast is test_new_version_is_live_within_2_seconds's and the benchmark's)
        poll_until(lambda: (labeler.health() or {}).get("model_version", 0) >= rollback, 120,
                   f"the labeler running version {rollback} or later")
        adopted_at = time.time()
        produce_file(stack_settings, rest, id_column="id", label_column="label", rate=50, limit=200)
        poll_until(lambda: registry.latest_version() > rollback, 120, "a version learned after the rollback")
        after = registry.load(min(v for v in registry.versions() if v > rollback))
        assert "rollback_of" not in after.metrics
        # the learner went on from the rolled-back model, not from the one it had before
        assert before_learned > snapshot.model.n_learned + per_version, "the rollback must make a difference"
        assert snapshot.model.n_learned <= after.model.n_learned <= snapshot.model.n_learned + per_version
        versions_after = [v for ts, v in outcome_versions(stack_settings) if ts > adopted_at]
        assert versions_after and min(versions_after) >= rollback, "the labeler went back from the rollback"
        events = [orjson.loads(m.value()) for m in read_all(stack_settings.kafka, stack_settings.topics.events)]
        assert any(e["kind"] == "rollback" and e["detail"]["to_version"] == target for e in events)
    finally:
        stop_all(procs)
