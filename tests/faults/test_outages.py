"""The broker, then Redis, down mid-stream for longer than every timeout: the services wait it out, never exit.

The labeler, the learner and the oracle reviewer-sim run together through each outage.

Outage length: ``LABELSTREAM_FAULTS_OUTAGE_SECONDS``; CI takes 45 s, past the
consumer session (10 s) and the transaction timeout (30 s), so that the group
forgets the labeler and the coordinator aborts its open transaction;
``bench/faults.py --outage-seconds 300`` writes the 5-minute figures into
RELIABILITY.md. The labeler is a real process; records keep coming
(the producer buffers while the broker is down).

Checked: the process never exits; ``/livez`` never answers 503; ``/readyz``
answers 503 during the outage and 200 after; every record gets exactly one
outcome; how long until it commits again, and until it has routed every
record produced before the restore. The learner and reviewer-sim never exit,
the learner's ``/livez`` never answers 503, every review is answered with the
true label and learned.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from fault_harness import (
    RecordStream,
    Services,
    committed_records,
    stack,
    wait_for,
    wait_for_stack,
    write_figures,
    write_stream,
)

from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.reader import read_all

pytestmark = pytest.mark.faults

OUTAGE_ENV = "LABELSTREAM_FAULTS_OUTAGE_SECONDS"
CI_OUTAGE_SECONDS = 45.0
RATE = 200.0


def outage_seconds() -> float:
    return float(os.environ.get(OUTAGE_ENV) or CI_OUTAGE_SECONDS)


class Prober:
    """Asks ``/livez`` and ``/readyz`` every second; counts the answers by status (0: no answer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: dict[str, Counter[int]] = {"livez": Counter(), "readyz": Counter()}
        self.ready_log: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def _status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/{path}", timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for path in self.answers:
                status = self._status(path)
                self.answers[path][status] += 1
                if path == "readyz":
                    self.ready_log.append((time.time(), status))

    def stop(self) -> dict[str, dict[int, int]]:
        self._stop.set()
        self._thread.join(10)
        return {path: dict(counts) for path, counts in self.answers.items()}


def catch_up_seconds(settings, ledger, restored_at: float) -> float:
    """When the last record produced before the restore was routed (its outcome's timestamp), after the restore."""
    created = {m.key().decode(): m.timestamp()[1] / 1000 for m in read_all(settings.kafka, settings.topics.records)}
    routed = [value["timestamp"] for record_id, value in ledger.routed.items() if created.get(record_id, math.inf) < restored_at]
    return round(max(routed) - restored_at, 1)


def ride_out(kind: str, settings_factory, tmp_path) -> dict:
    """Stream, take ``kind`` (kafka or redis) down for the outage, bring it back, audit."""
    outage = outage_seconds()
    settings = settings_factory(policy={"review_budget_share": 0.3})
    n = int(RATE * (outage + 60))
    data = tmp_path / "stream.csv"
    payloads, truth = write_stream(data, n, seed=8, prefix=f"o{kind[0]}")
    services = Services(settings, tmp_path / "logs")
    try:
        labeler = services.start("labeler", instance="0")
        # the learner and the oracle reviewer ride out the same outage (robust, issue #12 item 2)
        learner = services.start("learner")
        reviewer = services.start("reviewer-sim", "--data", str(data), "--label-column", "label", "--id-column", "id")
        labeler.wait_until_serving(120)
        learner.wait_until_serving(120)
        pid = labeler.process.pid
        stream = RecordStream(settings, list(payloads.values()), RATE, message_timeout_ms=int((outage + 180) * 1000)).start()
        prober = Prober(labeler.metrics_port).start()
        learner_prober = Prober(learner.metrics_port).start()
        stream.wait_until(int(RATE * 10))
        wait_for(lambda: committed_records(settings) > 0, 60, "a first commit")
        down_at = time.time()
        stack("stop", kind)
        time.sleep(outage)
        stack("start", kind)
        up_at = time.time()
        wait_for_stack(settings)
        committed = committed_records(settings)
        resumed_at = wait_for(lambda: committed_records(settings) > committed and time.time(), 180, "a commit after the outage", 0.2)
        stream.join(outage + 300)
        ids = list(payloads)
        wait_for(lambda: not read_ledger(settings).missing(ids), 300, "every record routed", 1.0)
        drained_at = time.time()
        learned_at = wait_for(lambda: every_review_learned(settings, learner) and time.time(), 300,
                              "every review answered and learned", 1.0)
        time.sleep(3)  # a duplicate would land now
        ledger = read_ledger(settings)
        caught_up = catch_up_seconds(settings, ledger, up_at)
        health = prober.stop()
        learner_health = learner_prober.stop()
        exited = labeler.process.poll()
        learner_exited, reviewer_exited = learner.process.poll(), reviewer.process.poll()
        log = labeler.log_path.read_text(errors="replace")
        learner_log = learner.log_path.read_text(errors="replace")
    finally:
        services.stop_all()
        stack("start", "all")
        wait_for_stack(settings)

    during = [status for at, status in prober.ready_log if down_at + 15 < at < up_at]
    after = [status for at, status in prober.ready_log if at > drained_at]
    figures = {
        "outage": kind,
        "outage_seconds": outage,
        "records": n,
        "exited": exited is not None,
        "pid_unchanged": labeler.process.pid == pid,
        "restarts_in_place": log.count("restarting in place"),
        "lost": len(ledger.missing(payloads)),
        "duplicated": len(ledger.duplicated()),
        "dead_letters": len(ledger.dead_letters),
        "commit_after_restore_seconds": round(resumed_at - up_at, 1),
        "backlog_routed_after_restore_seconds": caught_up,
        "livez": health["livez"],
        "readyz": health["readyz"],
        "learner_exited": learner_exited is not None,
        "learner_restarts_in_place": learner_log.count("restarting in place"),
        "reviewer_sim_exited": reviewer_exited is not None,
        "reviews_learned_after_restore_seconds": round(learned_at - up_at, 1),
        "human_labels_wrong": sum(labels[-1]["label"] != truth[i] for i, labels in ledger.human_labels.items()),
        "learner_livez": learner_health["livez"],
        "learner_readyz": learner_health["readyz"],
    }
    print(f"{kind} outage:", json.dumps(figures))
    write_figures(f"outage_{kind}", figures)
    assert exited is None, f"the labeler exited ({exited}):\n{log[-3000:]}"
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["dead_letters"] == 0, ledger.duplicated()
    assert 503 not in health["livez"], health  # waiting out an outage is being alive
    assert 503 in during, f"/readyz during the outage: {Counter(during)}"
    assert after and all(status == 200 for status in after), Counter(after)
    assert learner_exited is None, f"the learner exited ({learner_exited}):\n{learner_log[-3000:]}"
    assert reviewer_exited is None, f"reviewer-sim exited ({reviewer_exited}):\n{reviewer.log_tail()}"
    assert 503 not in learner_health["livez"], learner_health
    assert figures["human_labels_wrong"] == 0 and ledger.conflicting_human_labels() == {}
    return figures


def every_review_learned(settings, learner) -> bool:
    """Every record sent to review has its human label, and the learner learned every one."""
    ledger = read_ledger(settings)
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    if not all(ledger.human_labels.get(i) for i in reviewed):
        return False
    return (learner.health() or {}).get("corrections_applied", -1) >= len(ledger.human_labels)


def test_a_broker_outage_is_ridden_out(settings_factory, tmp_path):
    ride_out("kafka", settings_factory, tmp_path)


def test_a_redis_outage_is_ridden_out(settings_factory, tmp_path):
    ride_out("redis", settings_factory, tmp_path)
