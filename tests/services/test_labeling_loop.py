"""End to end on the real broker and Redis: labeler + learner + simulated reviewer as real processes."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from river import datasets

from labelstream.kafka.outcomes import read_ledger
from labelstream.processes import service, stop_all
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


def split_file(data: Path, parts: int) -> list[Path]:
    """``data`` cut into ``parts`` CSV files with its header, in order."""
    with data.open(newline="") as handle:
        reader = csv.reader(handle)
        header, rows = next(reader), list(reader)
    size = -(-len(rows) // parts)
    paths = []
    for k in range(parts):
        path = data.with_name(f"{data.stem}.part{k}.csv")
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows[k * size:(k + 1) * size])
        paths.append(path)
    return paths


def routed_and_answered(settings, ids: list[str]):
    """The ledger once every id in ``ids`` is routed and every one sent to review has its human label."""
    ledger = read_ledger(settings)
    reviewed = [i for i in ids if ledger.routing.get(i) == ["review"]]
    done = not ledger.missing(ids) and all(ledger.human_labels.get(i) for i in reviewed)
    return ledger if done else None


def run_stream(settings, start_services, data: Path, truth: dict[str, str], rate: float, phases: int = 1):
    """Start labeler, learner and simulated reviewer; stream the file in ``phases``; wait for every outcome.

    Between phases the test waits until the reviewer answered every review,
    the learner learned every answer and the labeler runs the model version
    holding them. Without that pause the comparison of the stream's start
    and end measured the machine's load, not the learning: on a busy machine
    the whole file can be routed before the first answer is learned.
    """
    labeler = start_services(settings, "labeler", instance="0")
    learner = start_services(settings, "learner")
    start_services(settings, "reviewer-sim", "--data", str(data), "--label-column", "label", "--id-column", "id")
    labeler.wait_until_serving()
    learner.wait_until_serving()
    sent_ids: list[str] = []
    for k, part in enumerate(split_file(data, phases)):
        report = produce_file(settings, part, id_column="id", label_column="label", rate=rate)
        part_ids = [row["id"] for row in csv.DictReader(part.open())]
        assert report.sent == len(part_ids)
        sent_ids += part_ids
        ids = list(sent_ids)
        ledger = wait_for(lambda ids=ids: routed_and_answered(settings, ids), 120, f"phase {k}: every record routed and answered")
        if k < phases - 1:
            wait_for(lambda ledger=ledger: model_caught_up(labeler, learner, ledger), 60,
                     f"phase {k}: the labeler to run a model with every answer")
    assert len(sent_ids) == len(truth)
    return ledger


def model_caught_up(labeler, learner, ledger) -> bool:
    """The learner learned every human label of ``ledger`` and the labeler runs that model version (or newer)."""
    learned, serving = learner.health() or {}, labeler.health() or {}
    answers = sum(1 for labels in ledger.human_labels.values() if labels)
    version = learned.get("model_version") or 0
    return learned.get("corrections_applied", -1) >= answers and version > 0 and (serving.get("model_version") or 0) >= version


def check_exactly_once(ledger, truth: dict[str, str]) -> None:
    assert ledger.missing(truth) == set()
    assert ledger.duplicated() == {}
    assert set(ledger.routing) == set(truth)
    assert ledger.dead_letters == []
    assert ledger.conflicting_human_labels() == {}
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    assert all(ledger.human_labels[i][-1]["label"] == truth[i] for i in reviewed)


def predicted(value: dict) -> str | None:
    """The model's label for a record at routing time: the auto label, or the label a review/deferral proposed."""
    return value["label"] if "label" in value else value.get("proposed_label")


def thirds(ledger, truth: dict[str, str]):
    """Per third of the stream (first, last): (the model's accuracy on every record, auto count, auto precision).

    The accuracy is prequential (each record predicted before anyone learned
    its label) over all records, whatever their outcome: it is what "the
    model improves" means, and unlike auto precision it can rise from a
    cold start whose few auto labels were all right.
    """
    ids = list(truth)
    third = len(ids) // 3

    def measure(chunk):
        accuracy = sum(predicted(ledger.routed[i]) == truth[i] for i in chunk) / len(chunk)
        auto = [i for i in chunk if ledger.routing[i] == ["label"]]
        correct = sum(ledger.auto_labels[i][0]["label"] == truth[i] for i in auto)
        return accuracy, len(auto), (correct / len(auto) if auto else None)

    return measure(ids[:third]), measure(ids[-third:])


@pytest.fixture
def start_services(tmp_path):
    started = []

    def start(settings, kind: str, *args: str, **kwargs):
        proc = service(settings, kind, tmp_path / "logs", *args, **kwargs).start()
        started.append(proc)
        return proc

    yield start
    stop_all(started, 20)  # together: 4-5 s of teardown a test when stopped one after the other


def test_stream_is_labeled_exactly_once_and_the_model_improves(settings_factory, start_services, tmp_path):
    """Issue 3, with the naive confidence-threshold policy: the model learns, more is auto-labeled."""
    settings = settings_factory(policy={"name": "threshold"})
    data = tmp_path / "phishing.csv"
    truth = write_dataset(data, datasets.Phishing(), "p")
    ledger = run_stream(settings, start_services, data, truth, rate=240, phases=2)
    check_exactly_once(ledger, truth)

    versions = [label["model_version"] for labels in ledger.auto_labels.values() for label in labels]
    assert versions and max(v or 0 for v in versions) >= 3, "the model version advances and labels carry it"
    (first, n_first, p_first), (last, n_last, p_last) = thirds(ledger, truth)
    print(f"threshold policy: accuracy {first:.3f} -> {last:.3f}, auto {n_first} -> {n_last}, "
          f"auto precision {p_first} -> {p_last}")
    assert last > first, "the model's accuracy rises as it learns the answers"
    assert n_last > n_first, "and it auto-labels more"


def test_contract_policy_end_to_end_with_budget_and_relabel(settings_factory, start_services, tmp_path):
    """Issue 4 on the real broker: the default contract policy under a review budget, deferred and relabel included."""
    settings = settings_factory(policy={"review_budget_share": 0.3})
    data = tmp_path / "sea.csv"
    export_dataset("sea", data, size=6000, seed=3)
    truth = {row["id"]: row["label"] for row in csv.DictReader(data.open())}
    # two phases: the second starts once every answer of the first is learned (see run_stream)
    ledger = run_stream(settings, start_services, data, truth, rate=400, phases=2)
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
    (_, n_first, _), (_, n_last, _) = thirds(ledger, truth)
    assert n_last > n_first, "auto share grows as the model learns"
