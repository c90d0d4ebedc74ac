"""Label-error detection through the real services, for the record.

Labeler, learner (``label_errors.enabled``) and review service on the local
stack; ``labelstream produce`` streams SEA (two classes, ``True``/``False``);
``labelstream run reviewer-sim --via-api`` has three reviewers, each wrong 5 %
of the time, work the queue over HTTP — the flagged answers' second reviews
and adjudications included. Then, from the topics:

- **nothing lost, nothing learned twice**: every reviewed record has exactly
  one human label on ``labels`` (a held answer none of its own, its second
  review's consensus one), every second-review request was consolidated, and
  the model's last version learned exactly one label per reviewed record;
- **the figures**: wrong first answers, wrong labels learned (the final human
  label against the truth), the share that reached the model, flags and their
  precision, extra reviews per 1000 answers. Detection off, every wrong answer
  reaches the model (the learner learns each answer), so the share is the
  on-vs-off figure. Asserted: fewer wrong labels are learned than were given,
  when anything was flagged.

``LABELSTREAM_LABEL_ERRORS_RECORDS`` (default 2000) sets the stream's size;
``LABELSTREAM_LABEL_ERRORS_REPORT=FILE`` writes the figures as JSON;
``pytest -s`` prints them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from client_support import LABELSTREAM, cli_env, url, wait_for

from labelstream.datafile import open_rows
from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.reader import read_all
from labelstream.processes import service, stop_all
from labelstream.produce import produce_file
from labelstream.simulate.datasets import export_dataset

pytestmark = pytest.mark.integration

RECORDS = int(os.environ.get("LABELSTREAM_LABEL_ERRORS_RECORDS", "2000"))
ERROR_RATE = 0.05


def test_label_errors_through_the_services_with_reviewers_wrong_5_percent(settings_factory, tmp_path):
    settings = settings_factory(
        labels={"classes": ["False", "True"]},
        review={"lease_seconds": 30.0, "undo_seconds": 0.5},
        label_errors={"enabled": True},
        policy={"review_budget_share": 0.3},
        learner={"publish_every_corrections": 20},
    )
    data = tmp_path / "sea.csv"
    export_dataset("sea", data, RECORDS, seed=5)
    truth = {row.payload["id"]: row.label for row in open_rows(data, label_column="label", id_column="id")}
    assert len(truth) == RECORDS
    started = []
    try:
        for kind in ("labeler", "learner", "review"):
            started.append(service(settings, kind, tmp_path / "logs").start())
        for proc in started:
            proc.wait_until_serving(90)
        review = started[2]
        assert produce_file(settings, data, id_column="id", label_column="label", rate=400).sent == RECORDS
        wait_for(lambda: len(read_ledger(settings).routing) >= RECORDS, 120, "every record routed", interval=1.0)
        # The reviewers work until the run is settled, then get SIGTERM (they hand back what they hold and exit 0):
        # no idle wait for second reviews that might still come (settled means none can: every reviewed record
        # has its final human label, and a held answer has none until its second review's consensus).
        sim = subprocess.Popen(
            [LABELSTREAM, "run", "reviewer-sim", "--via-api", "--url", url(review), "--data", str(data),
             "--label-column", "label", "--id-column", "id", "--reviewers", "3", "--error-rate", str(ERROR_RATE),
             "--delay-seconds", "0.02", "--seed", "5", "--json", "--log-level", "warning"],
            env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        learner = started[1]

        def settled() -> dict | None:  # every reviewed record has its human label, every second review its consensus
            ledger = read_ledger(settings)
            reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
            corrections = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.corrections)]
            held = set(ledger.second_reviews)
            consensus = {c["id"] for c in corrections if c["kind"] == "consensus"}
            done = all(ledger.human_labels.get(i) for i in reviewed) and held <= consensus
            return {"ledger": ledger, "reviewed": reviewed, "corrections": corrections, "held": held} if done else None

        try:
            def settled_while_reviewing() -> dict | None:
                assert sim.poll() is None, f"reviewer-sim exited with {sim.returncode}: {sim.stderr.read()[-3000:]}"
                return settled()

            state = wait_for(settled_while_reviewing, 900, "every answer learned, every second review consolidated",
                             interval=2.0)
            metrics = learner.metrics_text()
            sim.send_signal(signal.SIGTERM)
            _, err = sim.communicate(timeout=60)
        finally:
            if sim.poll() is None:
                sim.kill()
        assert sim.returncode == 0, err[-3000:]
    finally:
        stop_all(started, 20)

    ledger, reviewed, corrections, held = state["ledger"], state["reviewed"], state["corrections"], state["held"]
    # -- nothing lost, nothing learned twice --------------------------------------------------
    assert ledger.dead_letters == [] and ledger.duplicated() == {} and ledger.missing(truth) == set()
    first = {c["id"]: c["label"] for c in corrections if c["kind"] == "answer"}
    assert set(first) == set(reviewed)  # one first answer per reviewed record (no undo in this run)
    final = {i: ledger.human_labels[i][-1] for i in reviewed}
    assert all(len(ledger.human_labels[i]) == 1 for i in reviewed)  # held answers emitted no label of their own
    assert {i for i, label in final.items() if label["method"] == "consensus"} == held
    versions = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.model_versions)]
    assert versions[-1]["n_learned"] == len(reviewed)
    flagged = _counter(metrics, "labelstream_label_errors_flagged_total")
    assert flagged == len(held)

    # -- the figures ---------------------------------------------------------------------------
    wrong_answers = sum(first[i] != truth[i] for i in reviewed)
    wrong_learned = sum(final[i]["label"] != truth[i] for i in reviewed)
    extra = sum(c["kind"] == "overlap" for c in corrections)
    figures = {
        "records": RECORDS, "answers": len(reviewed), "wrong_answers": wrong_answers, "wrong_learned": wrong_learned,
        "reaching_share": round(wrong_learned / wrong_answers, 3) if wrong_answers else None,
        "flagged": len(held), "flagged_wrong": sum(first[i] != truth[i] for i in held),
        "fixed": sum(first[i] != truth[i] and final[i]["label"] == truth[i] for i in held),
        "broken": sum(first[i] == truth[i] and final[i]["label"] != truth[i] for i in held),
        "extra_reviews": extra, "extra_reviews_per_1000_answers": round(1000 * extra / len(reviewed), 1),
        "resolved": {r: _counter(metrics, "labelstream_label_errors_resolved_total", f'result="{r}"')
                     for r in ("confirmed", "overturned")},
    }
    print(json.dumps(figures))
    if report := os.environ.get("LABELSTREAM_LABEL_ERRORS_REPORT"):
        Path(report).write_text(json.dumps(figures, indent=2))
    assert sum(figures["resolved"].values()) == len(held)
    assert 0.5 * ERROR_RATE < wrong_answers / len(reviewed) < 2 * ERROR_RATE  # the reviewers erred as told
    if held:
        assert wrong_learned < wrong_answers, figures


def _counter(text: str, name: str, labels: str = "") -> float:
    prefix = f"{name}{{{labels}}}" if labels else name
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix + " ")]
    return values[0] if values else 0.0
