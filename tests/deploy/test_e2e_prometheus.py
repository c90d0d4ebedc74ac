"""End to end: the real labeler, learner and simulated reviewer on the real broker, scraped by a real Prometheus.

A SEA stream whose labels swap at record 3,000 of 5,000 (every ``True`` becomes ``False`` and
back) is produced to ``records`` (and a few messages that are not records); the services label it
under the precision contract, the reviewer answers from the label column,
the learner learns. Then, through Prometheus's HTTP API: every
dashboard query returns data, every alert rule evaluates without error, and
the drift alert fires.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from prom_harness import Prometheus
from workload import sea_with_drift

from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.topics import create_topics
from labelstream.processes import service, stop_all
from labelstream.produce import produce_file
from stack_support import unique_settings, wait_for_consumer_group

pytestmark = pytest.mark.integration

RECORDS = 5000
DRIFT_AT = 3000  # 15 s of the stream at 200/s before the swap: the first proof needs ~1300-1400 records plus the
# learner's publishing lag, which a loaded machine stretches (at 2000 a loaded CI run once auto-labeled nothing)
SWAPPED = {"True": "False", "False": "True"}

def write_stream(path: Path) -> int:
    """SEA with its labels swapped from the middle on.

    A drift every detector must see: what is under test here is the path from a
    detection to the metric, the dashboard and the alert, not the detectors'
    power (tests/core/test_drift.py). A milder change (SEA variant 0 -> 3, a
    threshold moved from 8 to 9.5) went unseen in about one run in four: ~300
    reviews after it, near a boundary the model was relearning.
    """
    rows = [(x, label if i < DRIFT_AT else SWAPPED[label])
            for i, (x, label) in enumerate(sea_with_drift(RECORDS, DRIFT_AT, seed=3))]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "x0", "x1", "x2", "label"])
        for i, (x, label) in enumerate(rows):
            writer.writerow([f"s{i}", x["0"], x["1"], x["2"], label])
    return len(rows)


@pytest.fixture(scope="module")
def live_run(prometheus: Prometheus, kafka_up, redis_up, tmp_path_factory):
    """Services started, scraped, fed the drifting stream until every record is routed."""
    settings = unique_settings(kafka_up, policy={"name": "contract", "review_budget_share": 0.3})
    create_topics(settings)
    workdir = tmp_path_factory.mktemp("e2e")
    data = workdir / "sea_drift.csv"
    total = write_stream(data)
    started = []
    try:
        for kind, extra in (("labeler", {"instance": "0"}), ("learner", {})):
            proc = service(settings, kind, workdir / "logs", **extra).start()
            started.append(proc)
            proc.wait_until_serving()
            prometheus.scrape(f"labelstream-{kind}", proc.metrics_port)
        started.append(
            service(settings, "reviewer-sim", workdir / "logs", "--data", str(data), "--label-column", "label",
                    "--id-column", "id").start()
        )
        prometheus.wait_for('up{job="labelstream-labeler"} == 1')
        prometheus.wait_for('up{job="labelstream-learner"} == 1')
        wait_for_consumer_group(settings, f"{settings.labeler.group_id}-reviewer-sim")
        send_invalid(settings, 3)
        # 200/s: the contract's anytime-valid proof needs ~1300-1400 records of this stream in process (plus the
        # learner's publishing lag) before the first auto-label and audit, which the drift at DRIFT_AT should follow
        report = produce_file(settings, data, id_column="id", label_column="label", rate=200)
        assert report.sent == total
        ids = [f"s{i}" for i in range(total)]
        wait_until(lambda: every_record_routed_and_learned(settings, ids, started[1]), 240,
                   "every record routed, every review answered and learned", started)
        assert len(read_ledger(settings).dead_letters) == 3, "only the messages that are not records are dead letters"
        time.sleep(3)  # a few more scrapes and rule evaluations
        yield prometheus, started
    finally:
        for kind in ("labeler", "learner"):
            prometheus.unscrape(f"labelstream-{kind}")
        stop_all(started, 20)


def every_record_routed_and_learned(settings, ids: list[str], learner) -> bool:
    """Every id has its outcome, every review its human label, and the learner learned every answer."""
    ledger = read_ledger(settings)
    if ledger.missing(ids) or len(ledger.dead_letters) < 3:
        return False
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    if not all(ledger.human_labels.get(i) for i in reviewed):
        return False
    return (learner.health() or {}).get("corrections_applied", -1) >= len(ledger.human_labels)


def wait_until(condition, timeout: float, what: str, processes) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [p.name for p in processes if not p.alive]
        assert not dead, f"{dead} exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(1)


def send_invalid(settings, n: int) -> None:
    """Messages that are not records: the labeler sends them to the DLQ and counts them."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    for i in range(n):
        producer.produce(settings.topics.records, key=f"bad{i}".encode(), value=b"{not json")
    assert producer.flush(10) == 0


def test_every_dashboard_query_returns_data(live_run):
    """The "Reviewers" row needs the review service, which this run leaves out (the Kafka oracle answers), and
    the "Self-training" row self-training, off by default and here (on, it would change what this run labels):
    test_dashboard.py checks both rows against the real metrics."""
    prometheus, _ = live_run
    empty = prometheus.queries_without_data(skip_rows=frozenset({"Reviewers", "Self-training"}))
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_every_alert_expression_evaluates(live_run):
    prometheus, _ = live_run
    health = prometheus.rule_health()
    assert len(health) == 10 and set(health.values()) == {"ok"}, health


def test_the_drift_alert_fires(live_run):
    prometheus, _ = live_run
    deadline = time.monotonic() + 30  # the rule is evaluated every second; the detection is already counted
    while not prometheus.drift_alert_detectors() and time.monotonic() < deadline:
        time.sleep(0.5)
    detectors = prometheus.drift_alert_detectors()
    # the ADWIN error detectors or the contract's own calibration check, whichever sees the drift first
    assert any(name.startswith("error:") or name == "calibration_check" for name in detectors), detectors
