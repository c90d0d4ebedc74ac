"""The fault suite's machinery: a labeled record stream, the services as processes, faults, and the final audit.

Everything is real: the shared Kafka broker and Redis of the stack (restarted
with ``deploy/stack.sh`` and the same environment, so CI's ports apply), the
labeler, learner and simulated reviewer as OS processes, ``kill -9`` as SIGKILL.
The figures of a run (records, kills, restarts, lost, duplicated, recovery
times) are returned as a dict and, when ``LABELSTREAM_FAULTS_REPORT`` names a
directory, written there as JSON for ``bench/faults.py`` to turn into RELIABILITY.md.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import redis
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from labelstream.kafka.config import admin_config, consumer_config, producer_config
from labelstream.kafka.outcomes import Ledger, read_ledger
from labelstream.kafka.reader import read_all
from labelstream.processes import ServiceProcess, service
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from stack_support import REPO, STACK_OUTAGE_ENV

RECORDS_ENV = "LABELSTREAM_FAULTS_RECORDS"
REPORT_ENV = "LABELSTREAM_FAULTS_REPORT"
SEED_ENV = "LABELSTREAM_FAULTS_SEED"
RATE_ENV = "LABELSTREAM_FAULTS_RATE"
FULL_ENV = "LABELSTREAM_FAULTS_FULL"
# 8000 records stream in 20 s at the CI rate (400/s); the faults, not the record count, make the test:
# each strikes mid-stream with records arriving before and after it, whatever the size.
CI_RECORDS = 8_000


def records_wanted() -> int:
    """N: ``LABELSTREAM_FAULTS_RECORDS`` (the benchmark sets 200000), else the CI size."""
    return int(os.environ.get(RECORDS_ENV) or CI_RECORDS)


def full_plan() -> bool:
    """``LABELSTREAM_FAULTS_FULL`` (set by ``bench/faults.py``): every fault of a scenario, not CI's subset."""
    return os.environ.get(FULL_ENV, "") not in ("", "0")


def seed_wanted() -> int:
    return int(os.environ.get(SEED_ENV) or 6)


def rate_wanted(n: int) -> float:
    """Records per second: ``LABELSTREAM_FAULTS_RATE``, else what streams ``n`` in 50-100 s."""
    return float(os.environ.get(RATE_ENV) or max(400.0, n / 100))


# -- data ----------------------------------------------------------------------------------------


def write_stream(path: Path, n: int, seed: int, prefix: str = "f") -> tuple[dict[str, dict], dict[str, str]]:
    """``n`` labeled records (two noisy classes, 4 numbers and a colour) as a CSV; (id -> payload, id -> label).

    The noise leaves a share of records uncertain, so reviews (and corrections) run all along the stream.
    """
    rng = random.Random(seed)
    weights = [1.5, -1.0, 0.8, 0.4]
    colour_shift = {"red": 0.6, "green": -0.6, "blue": 0.0}
    payloads: dict[str, dict] = {}
    truth: dict[str, str] = {}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "x0", "x1", "x2", "x3", "colour", "label"])
        for i in range(n):
            xs = [round(rng.gauss(0, 1), 4) for _ in weights]
            colour = rng.choice(list(colour_shift))
            score = sum(w * x for w, x in zip(weights, xs, strict=True)) + colour_shift[colour] + rng.gauss(0, 0.7)
            label = "pos" if score > 0 else "neg"
            record_id = f"{prefix}{i}"
            writer.writerow([record_id, *xs, colour, label])
            payloads[record_id] = {"id": record_id, "features": {**{f"x{j}": x for j, x in enumerate(xs)}, "colour": colour}}
            truth[record_id] = label
    return payloads, truth


class RecordStream:
    """Produces payloads on a thread at ``rate`` per second, never past :attr:`limit` (idempotent: no duplicates on retry).

    The harness raises ``limit`` from one fault point to the next, so each fault
    strikes at its seeded record and records keep arriving after it.
    """

    def __init__(
        self, settings: Settings, payloads: list[dict], rate: float, limit: int | None = None, message_timeout_ms: int = 300_000
    ) -> None:
        self.settings = settings
        self.payloads = payloads
        self.rate = rate
        self.limit = len(payloads) if limit is None else limit
        self.message_timeout_ms = message_timeout_ms
        self.sent = 0
        self.delivery_errors: list[str] = []
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="record-stream", daemon=True)

    def start(self) -> RecordStream:
        self._thread.start()
        return self

    def _run(self) -> None:
        # A broker restart happens mid-stream: give deliveries time to ride it out.
        producer = Producer(producer_config(self.settings.kafka, **{"message.timeout.ms": self.message_timeout_ms}))
        topic = self.settings.topics.records
        interval = 1.0 / self.rate
        next_at = time.monotonic()

        def delivered(err, _msg) -> None:  # noqa: ANN001
            if err is not None:
                self.delivery_errors.append(str(err))

        for index, payload in enumerate(self.payloads):
            while index >= self.limit:
                producer.poll(0.05)
                next_at = time.monotonic()
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
            key = payload["id"].encode()
            value = orjson.dumps(payload)
            while True:
                try:
                    producer.produce(topic, key=key, value=value, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
            self.sent = index + 1
        remaining = producer.flush(300)
        if remaining:
            self.delivery_errors.append(f"{remaining} records not delivered")
        self.finished.set()

    def wait_until(self, count: int, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while self.sent < count:
            assert time.monotonic() < deadline, f"the stream did not reach record {count} (at {self.sent})"
            time.sleep(0.02)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the record stream did not finish"
        assert self.delivery_errors == [], self.delivery_errors[:3]


# -- the shared stack ----------------------------------------------------------------------------


def stack(command: str, what: str) -> float:
    """``deploy/stack.sh <command> <what>`` with this environment (CI's ports); seconds it took.

    Stopping the shared stack is for a test marked ``stack_outage`` only: other tests run beside it otherwise."""
    if command == "stop":
        assert os.environ.get(STACK_OUTAGE_ENV) == "1", (
            "a test that stops the shared broker or Redis needs @pytest.mark.stack_outage (make test runs those alone)")
    started = time.monotonic()
    result = subprocess.run(
        [str(REPO / "deploy" / "stack.sh"), command, what],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, f"stack.sh {command} {what} failed:\n{result.stdout}\n{result.stderr}"
    return time.monotonic() - started


def wait_for_stack(settings: Settings, timeout: float = 120.0) -> None:
    """Until the broker answers a metadata request and Redis answers PING."""
    deadline = time.monotonic() + timeout
    admin = AdminClient(admin_config(settings.kafka))
    while True:
        try:
            if admin.list_topics(timeout=5).brokers and redis.Redis.from_url(settings.redis.url).ping():
                return
        except Exception:  # noqa: BLE001 - still coming back
            pass
        assert time.monotonic() < deadline, "the stack did not come back"
        time.sleep(0.5)


# -- services ------------------------------------------------------------------------------------


class Services:
    """The processes of one scenario; all stopped at the end."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def start(self, kind: str, *args: str, instance: str | None = None) -> ServiceProcess:
        proc = service(self.settings, kind, self.log_dir, *args, instance=instance).start()
        self.started.append(proc)
        return proc

    def start_loop(self, data: Path) -> tuple[ServiceProcess, ServiceProcess]:
        """Labeler 0, the learner and the oracle reviewer on ``data``; returns (labeler, learner) once both serve."""
        labeler = self.start("labeler", instance="0")
        learner = self.start("learner")
        self.start("reviewer-sim", "--data", str(data), "--label-column", "label", "--id-column", "id")
        labeler.wait_until_serving(120)
        learner.wait_until_serving(120)
        return labeler, learner

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop(20)


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Fault:
    """One fault and how long until processing resumed after it."""

    kind: str  # kill_labeler, kill_learner, restart_kafka, restart_redis
    at_record: int
    at: float = 0.0  # epoch seconds when it struck
    down_seconds: float = 0.0  # until the killed/restarted part was up again
    recovery_seconds: float | None = None  # until the labeler committed a batch again (learner: learned again)
    learner_recovery_seconds: float | None = None  # restarts: until the learner learned again


def health_count(proc: ServiceProcess, key: str) -> int:
    """A counter from the service's /healthz (-1 when it does not answer)."""
    health = proc.health() or {}
    value = health.get(key)
    return -1 if value is None else int(value)


def committed_records(settings: Settings) -> int:
    """Sum of the labeler group's committed offsets on ``records``: grows exactly when a batch commits.

    Unlike a process's own counters it survives the process (a kill, a restart in place).
    """
    consumer = Consumer(consumer_config(settings.kafka, settings.labeler.group_id))
    try:
        topic = settings.topics.records
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return sum(max(tp.offset, 0) for tp in committed)
    except KafkaException:
        return -1  # the broker is not answering yet
    finally:
        consumer.close()


def wait_until(condition, timeout: float, what: str, procs: list[ServiceProcess]) -> float:  # noqa: ANN001
    """Until ``condition()``; the epoch time it held. Fails with the services' log tails."""
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            if not proc.alive:
                raise AssertionError(f"{proc.name} died while waiting for {what}:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in procs)
            raise AssertionError(f"{what}: no progress in {timeout:.0f} s\n{tails}")
        time.sleep(0.2)
    return time.time()


RECOVERY_TIMEOUT = 180.0


class FaultRunner:
    """Strikes a fault, lets the stream on, and measures live how long until processing resumed.

    Labeler progress: its group's committed offsets grow (a batch committed).
    Learner progress: its ``corrections_applied`` passes what it had learned before the fault.
    """

    def __init__(self, settings: Settings, labeler: ServiceProcess, learner: ServiceProcess) -> None:
        self.settings = settings
        self.labeler = labeler
        self.learner = learner

    def strike(self, fault: Fault, release: Callable[[], None]) -> None:
        committed = committed_records(self.settings)
        learned = health_count(self.learner, "corrections_applied")
        procs = [self.labeler, self.learner]
        fault.at = time.time()
        if fault.kind == "kill_labeler":
            self._kill_and_start(self.labeler)
        elif fault.kind == "kill_learner":
            self._kill_and_start(self.learner)
        else:
            stack("restart", fault.kind.removeprefix("restart_"))
        fault.down_seconds = round(time.time() - fault.at, 2)
        release()
        if fault.kind != "kill_learner":
            resumed = wait_until(lambda: committed_records(self.settings) > committed, RECOVERY_TIMEOUT, f"labeler after {fault.kind}", procs)
            fault.recovery_seconds = round(resumed - fault.at, 2)
        if fault.kind != "kill_labeler":
            resumed = wait_until(
                lambda: health_count(self.learner, "corrections_applied") > learned, RECOVERY_TIMEOUT, f"learner after {fault.kind}", procs
            )
            key = "recovery_seconds" if fault.kind == "kill_learner" else "learner_recovery_seconds"
            setattr(fault, key, round(resumed - fault.at, 2))

    @staticmethod
    def _kill_and_start(proc: ServiceProcess) -> None:
        proc.kill()
        proc.start()
        proc.wait_until_serving(120)


def fault_plan(n: int, seed: int, kinds: list[str], low: float = 0.05, high: float = 0.75) -> list[Fault]:
    """The faults in a seeded random order at seeded random record points (sorted)."""
    rng = random.Random(seed)
    kinds = list(kinds)
    rng.shuffle(kinds)
    points = sorted(int(rng.uniform(low, high) * n) for _ in kinds)
    return [Fault(kind, point) for kind, point in zip(kinds, points, strict=True)]


def run_faults(stream: RecordStream, runner: FaultRunner, faults: list[Fault]) -> None:
    """Let the stream reach each fault's record, strike, let it on to the next; then to its end."""
    for index, fault in enumerate(faults):
        stream.wait_until(fault.at_record)
        next_limit = faults[index + 1].at_record if index + 1 < len(faults) else len(stream.payloads)
        runner.strike(fault, release=lambda limit=next_limit: setattr(stream, "limit", limit))


# -- the audit -----------------------------------------------------------------------------------


@dataclass
class Audit:
    """What the topics and the learner say at the end of a run."""

    records: int
    routed: int
    lost: int
    duplicated: int
    dead_letters: int
    outcomes: dict[str, int]
    relabel_outcomes: dict[str, int]
    corrections: int
    distinct_corrections: int
    learned: int
    snapshot_learned: int
    human_labels: int
    human_label_repeats: int
    conflicting_human_labels: int
    final_labels_wrong: int
    examples: dict[str, list] = field(default_factory=dict)


def corrections_read(settings: Settings) -> tuple[int, int]:
    """(messages, distinct ids) on ``corrections``, read_committed."""
    ids = [msg.key() for msg in read_all(settings.kafka, settings.topics.corrections)]
    return len(ids), len(set(ids))


def registry_for(settings: Settings) -> ModelRegistry:
    """The model registry the services of ``settings`` use."""
    return ModelRegistry.from_settings(connect(settings.redis, wait_seconds=30), settings)


def snapshot_learned(settings: Settings) -> int:
    state = registry_for(settings).load_latest()
    # The applied count the snapshot holds (model.n_learned restarts when a challenger model wins).
    return 0 if state is None else int(state.metrics["corrections_applied"])


def learner_applied(learner: ServiceProcess) -> int:
    health = learner.health() or {}
    return int(health.get("corrections_applied", -1))


def reviewed_ids(ledger: Ledger) -> set[str]:
    """Ids sent to review: by routing, or later by a relabel (a deferred record the model still doubts)."""
    routed = {i for i, outs in ledger.routing.items() if outs == ["review"]}
    return routed | {i for i, outs in ledger.relabels.items() if "review" in outs}


def settle(settings: Settings, ids: list[str], learner: ServiceProcess, timeout: float) -> Ledger:
    """Wait until every id is routed, every review answered and every answer learned and snapshotted."""

    def all_routed() -> Ledger | None:
        ledger = read_ledger(settings)
        return ledger if not ledger.missing(ids) else None

    ledger = wait_for(all_routed, timeout, f"all {len(ids)} records to be routed")
    reviewed = len(reviewed_ids(ledger))

    def learned_all() -> bool:
        _messages, distinct = corrections_read(settings)
        return distinct >= reviewed and learner_applied(learner) >= distinct and snapshot_learned(settings) >= distinct

    wait_for(learned_all, timeout, f"{reviewed} reviews to be answered and learned (learner: {learner.log_tail(5)})", 1.0)
    time.sleep(2)  # anything still in flight (a duplicate would land now)
    return read_ledger(settings)


def audit(settings: Settings, payloads: dict[str, dict], truth: dict[str, str], learner: ServiceProcess, ledger: Ledger) -> Audit:
    ids = list(payloads)
    messages, distinct = corrections_read(settings)
    duplicated = ledger.duplicated()
    repeats = sum(len(v) - 1 for v in ledger.human_labels.values())
    wrong = sum(
        1
        for i, labels in ledger.human_labels.items()
        if labels[-1]["label"] != truth.get(i)
    )
    return Audit(
        records=len(ids),
        routed=len(ledger.routing),
        lost=len(ledger.missing(ids)),
        duplicated=len(duplicated),
        dead_letters=len(ledger.dead_letters),
        outcomes=dict(ledger.outcome_counts()),
        relabel_outcomes=dict(Counter(outs[-1] for outs in ledger.relabels.values() if outs)),
        corrections=messages,
        distinct_corrections=distinct,
        learned=learner_applied(learner),
        snapshot_learned=snapshot_learned(settings),
        human_labels=len(ledger.human_labels),
        human_label_repeats=repeats,
        conflicting_human_labels=len(ledger.conflicting_human_labels()),
        final_labels_wrong=wrong,
        examples={"missing": sorted(ledger.missing(ids))[:5], "duplicated": list(duplicated.items())[:5]},
    )


def longest_wait_after(settings: Settings, moment: float) -> float:
    """The longest a record produced after ``moment`` waited for its routing outcome (seconds).

    After a labeler dies for good, its partitions wait for the group to hand
    them over (and for its open transaction to time out): this is that wait.
    A relabel (a deferred record auto-labeled once a threshold is proven, maybe
    minutes later) is not a routing outcome: counting it made this figure the
    age of the latest relabel (75-245 s in the 200,000-record runs).
    """
    created = {}
    for msg in read_all(settings.kafka, settings.topics.records):
        ts = msg.timestamp()[1] / 1000
        if ts >= moment:
            created[msg.key().decode()] = ts
    waits = []
    topics = settings.topics
    for topic in (topics.labels, topics.review, topics.deferred):
        for msg in read_all(settings.kafka, topic):
            value = orjson.loads(msg.value())
            if value.get("method") not in ("human", "consensus") and not value.get("relabeled") and value["id"] in created:
                waits.append(value["timestamp"] - created[value["id"]])
    return max(waits)


def figures(name: str, settings: Settings, result: Audit, faults: list[Fault], seconds: float, **extra: object) -> dict:
    kinds = Counter(f.kind for f in faults)
    report = {
        "scenario": name,
        "records": result.records,
        "kills": kinds["kill_labeler"] + kinds["kill_learner"],
        "kills_by_service": {"labeler": kinds["kill_labeler"], "learner": kinds["kill_learner"]},
        "restarts": {"kafka": kinds["restart_kafka"], "redis": kinds["restart_redis"]},
        "lost": result.lost,
        "duplicated": result.duplicated,
        "audit": asdict(result),
        "faults": [asdict(f) for f in faults],
        "seconds": round(seconds, 1),
        **extra,
    }
    print(json.dumps(report, indent=2))
    write_figures(name, report)
    return report


def write_figures(name: str, figures: dict) -> None:
    """Into ``$LABELSTREAM_FAULTS_REPORT/<name>.json`` when set (bench/faults.py reads them)."""
    out_dir = os.environ.get(REPORT_ENV)
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / f"{name}.json").write_text(json.dumps(figures, indent=2))
