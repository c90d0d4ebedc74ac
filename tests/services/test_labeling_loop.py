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


@pytest.fixture
def loop_services(stack_settings, tmp_path):
    started = []

    def start(kind: str, *args: str, **kwargs):
        proc = service(stack_settings, kind, tmp_path / "logs", *args, **kwargs).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(20)


def test_stream_is_labeled_exactly_once_and_the_model_improves(stack_settings, loop_services, tmp_path):
    data = tmp_path / "phishing.csv"
    truth = write_dataset(data, datasets.Phishing(), "p")
    labeler = loop_services("labeler", instance="0")
    learner = loop_services("learner")
    loop_services("reviewer-sim", "--data", str(data), "--label-column", "label", "--id-column", "id")
    labeler.wait_until_serving()
    learner.wait_until_serving()

    report = produce_file(stack_settings, data, id_column="id", label_column="label", rate=120)
    assert report.sent == len(truth)

    def all_routed():
        ledger = read_ledger(stack_settings)
        return ledger if len(ledger.routing) >= len(truth) else None

    ledger = wait_for(all_routed, 60, "every record to be routed")
    assert ledger.missing(truth) == set()
    assert ledger.duplicated() == {}
    assert set(ledger.routing) == set(truth)
    assert ledger.dead_letters == []

    # Every review got its human label back, learned by the model.
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    wait_for(lambda: len(read_ledger(stack_settings).human_labels) >= len(reviewed), 30, "human labels")
    ledger = read_ledger(stack_settings)
    assert ledger.conflicting_human_labels() == {}
    assert all(ledger.human_labels[i][-1]["label"] == truth[i] for i in reviewed)

    # The model version advances and labels carry it.
    versions = [label["model_version"] for labels in ledger.auto_labels.values() for label in labels]
    assert versions and max(v or 0 for v in versions) >= 3

    # Auto precision improves: last third of the stream vs first third (auto-labeled records only).
    ids = list(truth)
    third = len(ids) // 3

    def auto_precision(chunk):
        auto = [i for i in chunk if ledger.routing[i] == ["label"]]
        correct = sum(ledger.auto_labels[i][0]["label"] == truth[i] for i in auto)
        return correct / len(auto) if auto else 0.0, len(auto)

    first, n_first = auto_precision(ids[:third])
    print("auto precision first third", first, n_first)
    last, n_last = auto_precision(ids[-third:])
    print("auto precision last third", last, n_last, ledger.outcome_counts())
    assert n_first >= 20 and n_last > n_first
    assert last > first, (first, n_first, last, n_last)
