"""End to end on the real broker and Redis: labeler + learner + simulated reviewer as real processes."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from river import datasets

from labelstream.kafka.outcomes import read_ledger
from labelstream.processes import service
from labelstream.produce import produce_file
from labelstream.simulate.datasets import export_dataset

pytestmark = pytest.mark.integration


def write_dataset(path: Path, dataset, prefix: str) -> dict[str, str]:
    """A river dataset as a CSV with id and label columns; returns id -> true label."""
    truth = {}
    rows = list(dataset)
    names = list(rows[0][0])
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *names, "label"])
        for i, (x, y) in enumerate(rows):
            record_id = f"{prefix}{i}"
            writer.writerow([record_id, *[x[n] for n in names], y])
            truth[record_id] = str(y)
    return truth


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_stream(settings, start_services, data: Path, truth: dict[str, str], rate: float):
    """Start labeler, learner and simulated reviewer; stream the file; wait until every record is routed and answered."""
    labeler = start_services(settings, "labeler", instance="0")
    learner = start_services(settings, "learner")
    start_services(settings, "reviewer-sim", "--data", str(data), "--label-column", "label", "--id-column", "id")
    labeler.wait_until_serving()
    learner.wait_until_serving()
    report = produce_file(settings, data, id_column="id", label_column="label", rate=rate)
    assert report.sent == len(truth)

    def all_routed_and_answered():
        ledger = read_ledger(settings)
        reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
        done = len(ledger.routing) >= len(truth) and all(ledger.human_labels.get(i) for i in reviewed)
        return ledger if done else None

    return wait_for(all_routed_and_answered, 120, "every record routed and every review answered")


def check_exactly_once(ledger, truth: dict[str, str]) -> None:
    assert ledger.missing(truth) == set()
    assert ledger.duplicated() == {}
    assert set(ledger.routing) == set(truth)
    assert ledger.dead_letters == []
    assert ledger.conflicting_human_labels() == {}
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    assert all(ledger.human_labels[i][-1]["label"] == truth[i] for i in reviewed)


def thirds(ledger, truth: dict[str, str]):
    """(auto precision, auto count) of the first and the last third of the stream."""
    ids = list(truth)
    third = len(ids) // 3

    def auto_precision(chunk):
        auto = [i for i in chunk if ledger.routing[i] == ["label"]]
        correct = sum(ledger.auto_labels[i][0]["label"] == truth[i] for i in auto)
        return (correct / len(auto) if auto else 0.0), len(auto)

    return auto_precision(ids[:third]), auto_precision(ids[-third:])


@pytest.fixture
def start_services(tmp_path):
    started = []

    def start(settings, kind: str, *args: str, **kwargs):
        proc = service(settings, kind, tmp_path / "logs", *args, **kwargs).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(20)


def test_stream_is_labeled_exactly_once_and_the_model_improves(settings_factory, start_services, tmp_path):
    """Issue 3, with the naive confidence-threshold policy: the model learns, auto precision rises."""
    settings = settings_factory(policy={"name": "threshold"})
    data = tmp_path / "phishing.csv"
    truth = write_dataset(data, datasets.Phishing(), "p")
    ledger = run_stream(settings, start_services, data, truth, rate=120)
    check_exactly_once(ledger, truth)

    versions = [label["model_version"] for labels in ledger.auto_labels.values() for label in labels]
    assert versions and max(v or 0 for v in versions) >= 3, "the model version advances and labels carry it"
    (first, n_first), (last, n_last) = thirds(ledger, truth)
    print("threshold policy, auto precision first third", first, n_first, "last third", last, n_last)
    assert n_first >= 20 and n_last > n_first
    assert last > first


def test_contract_policy_end_to_end_with_budget_and_relabel(settings_factory, start_services, tmp_path):
    """Issue 4 on the real broker: the default contract policy under a review budget, deferred and relabel included."""
    settings = settings_factory(policy={"review_budget_share": 0.3})
    data = tmp_path / "sea.csv"
    export_dataset("sea", data, size=6000, seed=3)
    truth = {row["id"]: row["label"] for row in csv.DictReader(data.open())}
    # 200/s (30 s): an anytime-valid proof takes several hundred answers, which the learner on this shared machine
    # has learned only ~10 s in; at 600/s the whole stream was routed before the first threshold was proven
    ledger = run_stream(settings, start_services, data, truth, rate=200)
    check_exactly_once(ledger, truth)

    counts = ledger.outcome_counts()
    print("contract policy outcomes", dict(counts), "relabeled", len(ledger.relabels))
    assert counts["review"] <= 0.3 * len(truth) + 10, "the review budget holds"
    assert counts["deferred"] > 0 and counts["label"] > 0
    relabeled = [i for i, outs in ledger.relabels.items() if outs]
    assert all(ledger.routing[i] == ["deferred"] for i in relabeled), "only deferred records are relabeled"
    auto = [labels[-1] for labels in ledger.auto_labels.values()]
    precision = sum(label["label"] == truth[label["id"]] for label in auto) / len(auto)
    assert precision >= 0.94, precision
    (_, n_first), (_, n_last) = thirds(ledger, truth)
    assert n_last > n_first, "auto share grows as the model learns"
