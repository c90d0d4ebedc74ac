"""The broker, then Redis, down mid-stream for longer than every timeout: the services wait it out, never exit.

One run, one set of services: the labeler, the learner, the review service and
``reviewer-sim --via-api`` reviewers (``LABELSTREAM_FAULTS_REVIEWERS=oracle``: the
oracle reviewer-sim on the review topic instead) start once and ride out a broker
outage and then a Redis outage while records keep coming (the producer buffers
while the broker is down).

Outage length: ``LABELSTREAM_FAULTS_OUTAGE_SECONDS``; CI takes 20 s with the
labeler's transaction timeout at 10 s, so each outage outlasts the consumer
session (10 s) and the transaction timeout: the group forgets the labeler and
the coordinator aborts its open transaction, as in a long outage.
``bench/faults.py --outage-seconds 300`` writes the 5-minute figures into
RELIABILITY.md (with the default 30 s transaction timeout).

Checked, for each outage: no process exits; ``/livez`` never answers 503;
``/readyz`` answers 503 during the outage and 200 after; how long until the
labeler commits again, until it has routed every record produced before the
restore, and until every review is answered and learned. At the end: every
record got exactly one outcome, no dead letters, every review answered once
with the true label and learned exactly once (the learner's count and its
snapshot's).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fault_harness import (
    RecordStream,
    Services,
    committed_records,
    corrections_read,
    learner_applied,
    reviewed_ids,
    snapshot_learned,
    stack,
    wait_for,
    wait_for_stack,
    write_figures,
    write_stream,
)

from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.reader import read_all

pytestmark = [pytest.mark.faults, pytest.mark.stack_outage]

OUTAGE_ENV = "LABELSTREAM_FAULTS_OUTAGE_SECONDS"
# who answers the reviews: "api" (CI), the review service and ``reviewer-sim --via-api`` (three reviewers,
# never wrong), or "oracle", reviewer-sim answering the review topic itself
REVIEWERS_ENV = "LABELSTREAM_FAULTS_REVIEWERS"
CI_OUTAGE_SECONDS = 20.0
RATE = 100.0


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


@dataclass
class Outage:
    kind: str  # kafka or redis
    down_at: float = 0.0
    up_at: float = 0.0
    resumed_at: float = 0.0  # the labeler committed again
    caught_up_at: float = 0.0  # every record produced before the restore routed
    learned_at: float = 0.0  # every review so far answered and learned
    # when each downstream process first did work again after the restore (its counter grew)
    ingest_resumed_at: float = 0.0  # the review service enqueued a review request
    learner_resumed_at: float = 0.0  # the learner learned a correction


class Resumption:
    """Polls the review service's ``enqueued`` and the learner's ``corrections_applied`` from the restore on."""

    def __init__(self, outage: Outage, review, learner) -> None:  # noqa: ANN001
        self.outage, self.review, self.learner = outage, review, learner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Resumption:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _count(self, proc, key: str) -> int | None:  # noqa: ANN001
        value = None if proc is None else (proc.health() or {}).get(key)
        return None if value is None else int(value)

    def _run(self) -> None:
        first = {"ingest": None, "learner": None}
        while not self._stop.wait(0.5) and not (self.outage.ingest_resumed_at and self.outage.learner_resumed_at):
            for name, proc, key in (("ingest", self.review, "enqueued"), ("learner", self.learner, "corrections_applied")):
                count = self._count(proc, key)
                if count is None:
                    continue
                if first[name] is None:
                    first[name] = count
                elif count > first[name] and not getattr(self.outage, f"{name}_resumed_at"):
                    setattr(self.outage, f"{name}_resumed_at", time.time())


def take_down(outage: Outage, seconds: float, settings, stream: RecordStream, ids: list[str], learner, review,
              reviewer, labeler) -> None:
    """Stop ``outage.kind`` for ``seconds`` while the stream goes on, start it, wait until everything caught up."""
    outage.down_at = time.time()
    stack("stop", outage.kind)
    time.sleep(seconds)
    stack("start", outage.kind)
    outage.up_at = time.time()
    with Resumption(outage, review, learner), stacks_on_timeout(settings, review, learner, reviewer, labeler):
        wait_for_stack(settings)
        committed = committed_records(settings)
        outage.resumed_at = wait_for(lambda: committed_records(settings) > committed and time.time(), 180,
                                     f"a commit after the {outage.kind} outage", 0.2)
        before = ids[: stream.sent]  # produced (at least handed to the producer) before now
        with gap_on_timeout(settings, stream, before):
            wait_for(lambda: not read_ledger(settings).missing(before), 300, f"the records of the {outage.kind} outage routed", 1.0)
        outage.caught_up_at = time.time()
        outage.learned_at = wait_for(lambda: every_review_learned(settings, learner) and time.time(), 300,
                                     f"the reviews of the {outage.kind} outage answered and learned", 1.0)


@contextmanager
def stacks_on_timeout(settings, *procs):  # noqa: ANN001, ANN201
    """A wait that times out: each service writes its threads' stacks to its log (SIGUSR1) and the failure
    says where the reviews stand and what the services' probes answer, so a stuck loop shows where it waits."""
    try:
        yield
    except AssertionError as exc:
        details = [f"reviews: {review_progress(settings, procs[1])}"]
        for proc in procs:
            if proc is None or not proc.alive:
                details.append(f"{getattr(proc, 'name', '?')}: not running")
                continue
            os.kill(proc.process.pid, signal.SIGUSR1)
            details.append(f"{proc.name} /healthz: {proc.health()}")
            if proc.name == "review":
                details.append(f"review /livez: {probe(proc.metrics_port, 'livez')}")
        time.sleep(1)  # the stacks reach the logs
        tails = "\n".join(f"--- {proc.name} log ---\n{quiet_tail(proc)}" for proc in procs if proc is not None)
        raise AssertionError(f"{exc}\n" + "\n".join(details) + "\n" + tails) from exc


@contextmanager
def gap_on_timeout(settings, stream: RecordStream, expected: list[str]):  # noqa: ANN201
    """A routing wait that times out says which records lack an outcome and whether they reached the topic at all
    (a delivery error of the test's own producer) or the labeler's committed offsets passed them (a lost record)."""
    try:
        yield
    except AssertionError as exc:
        missing = read_ledger(settings).missing(expected)
        on_topic = {m.key().decode(): (m.partition(), m.offset()) for m in read_all(settings.kafka, settings.topics.records)}
        where = {i: on_topic.get(i, "not on the records topic") for i in sorted(missing)[:10]}
        raise AssertionError(f"{exc}\n{len(missing)} of {len(expected)} without an outcome, e.g. {where}; "
                             f"records topic holds {len(on_topic)}; labeler group committed {committed_records(settings)}; "
                             f"the test producer's delivery errors: {stream.delivery_errors[:3]}") from exc


def quiet_tail(proc, lines: int = 150) -> str:  # noqa: ANN001
    """The end of a service's log without librdkafka's connection-refused lines (one every 50 ms in an outage)."""
    text = proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
    return "\n".join([line for line in text.splitlines() if "Connect to ipv4" not in line][-lines:])


def probe(port: int, path: str) -> str:
    """A probe's status and body, or why there is none."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as response:
            return f"{response.status} {response.read().decode()[:500]}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode()[:500]}"
    except OSError as exc:
        return f"no answer ({exc})"


def transaction_timeout_ms(outage: float) -> int:
    """Half the outage, at most the default (30 s): the coordinator aborts the open transaction mid-outage."""
    return int(min(30.0, outage / 2) * 1000)


def test_broker_and_redis_outages_are_ridden_out(settings_factory, tmp_path):
    seconds = outage_seconds()
    via_api = (os.environ.get(REVIEWERS_ENV) or "api") == "api"
    # through the API each answer is an HTTP request (~4/s here under load): a review share the reviewers keep up with
    review_share = 0.03 if via_api else 0.3
    settings = settings_factory(policy={"review_budget_share": review_share},
                                **({"labels": {"classes": ["neg", "pos"]}} if via_api else {}),
                                labeler={"transaction_timeout_ms": transaction_timeout_ms(seconds)})
    # before, during and after each outage (its restart included): the stream never runs dry mid-run
    lead, tail = int(RATE * 5), int(RATE * 5)
    per_outage = int(RATE * (seconds + 20))
    n = lead + 2 * per_outage + tail
    data = tmp_path / "stream.csv"
    payloads, truth = write_stream(data, n, seed=8, prefix="o")
    ids = list(payloads)
    outages = [Outage("kafka"), Outage("redis")]
    services = Services(settings, tmp_path / "logs")
    started = time.monotonic()
    try:
        labeler = services.start("labeler", instance="0")
        learner = services.start("learner")
        truth_args = ("--data", str(data), "--label-column", "label", "--id-column", "id")
        if via_api:
            review = services.start("review")
            review.wait_until_serving(120)
            reviewer = services.start("reviewer-sim", "--via-api", "--url", f"http://127.0.0.1:{review.metrics_port}", *truth_args,
                                      "--reviewers", "3", "--error-rate", "0,0,0", "--seed", "5")
        else:
            review = None
            reviewer = services.start("reviewer-sim", *truth_args)
        labeler.wait_until_serving(120)
        learner.wait_until_serving(120)
        pid = labeler.process.pid
        stream = RecordStream(settings, list(payloads.values()), RATE, limit=lead + per_outage,
                              message_timeout_ms=int((seconds + 180) * 1000)).start()
        prober = Prober(labeler.metrics_port).start()
        learner_prober = Prober(learner.metrics_port).start()
        stream.wait_until(lead)
        wait_for(lambda: committed_records(settings) > 0, 60, "a first commit")
        take_down(outages[0], seconds, settings, stream, ids, learner, review, reviewer, labeler)
        stream.limit = lead + 2 * per_outage
        take_down(outages[1], seconds, settings, stream, ids, learner, review, reviewer, labeler)
        stream.limit = n
        stream.join(seconds + 300)
        with gap_on_timeout(settings, stream, ids):
            wait_for(lambda: not read_ledger(settings).missing(ids), 300, "every record routed", 1.0)
        drained_at = time.time()
        wait_for(lambda: every_review_learned(settings, learner), 300, "every review answered and learned", 1.0)
        time.sleep(3)  # a duplicate would land now
        ledger = read_ledger(settings)
        messages, distinct = corrections_read(settings)
        learned, snapshot = learner_applied(learner), snapshot_learned(settings)
        caught_up = [catch_up_seconds(settings, ledger, o.up_at) for o in outages]
        time.sleep(2)  # a last /readyz answer after the drain
        health = prober.stop()
        learner_health = learner_prober.stop()
        review_health = {} if review is None else (review.health() or {})
        exited = labeler.process.poll()
        learner_exited, reviewer_exited = learner.process.poll(), reviewer.process.poll()
        review_exited = None if review is None else review.process.poll()
        log = labeler.log_path.read_text(errors="replace")
        learner_log = learner.log_path.read_text(errors="replace")
    finally:
        services.stop_all()
        stack("start", "all")
        wait_for_stack(settings)

    reviewed = len(reviewed_ids(ledger))
    common = {
        "records": n,
        "seconds": round(time.monotonic() - started, 1),
        "exited": exited is not None,
        "pid_unchanged": labeler.process.pid == pid,
        "restarts_in_place": log.count("restarting in place"),
        "lost": len(ledger.missing(payloads)),
        "duplicated": len(ledger.duplicated()),
        "dead_letters": len(ledger.dead_letters),
        "reviews": reviewed,
        "corrections": messages,
        "distinct_corrections": distinct,
        "learned": learned,
        "snapshot_learned": snapshot,
        "livez": health["livez"],
        "readyz": health["readyz"],
        "learner_exited": learner_exited is not None,
        "learner_restarts_in_place": learner_log.count("restarting in place"),
        "reviewer_sim_exited": reviewer_exited is not None,
        "reviewers": "review service + reviewer-sim --via-api" if via_api else "reviewer-sim (oracle)",
        "review_service_exited": review_exited is not None,
        # the review ingest's consumer replaced: after a stall (no request taken while requests waited), a fencing
        "review_ingest_stalls": review_health.get("ingest_stalls"),
        "review_ingest_rejoins": review_health.get("ingest_rejoins"),
        "review_ingest_session_rejoins": review_health.get("ingest_session_rejoins"),
        "human_labels_wrong": sum(labels[-1]["label"] != truth[i] for i, labels in ledger.human_labels.items()),
        "learner_livez": learner_health["livez"],
        "learner_readyz": learner_health["readyz"],
    }
    for outage, caught in zip(outages, caught_up, strict=True):
        figures = {
            "outage": outage.kind,
            "outage_seconds": seconds,
            "transaction_timeout_ms": settings.labeler.transaction_timeout_ms,
            **common,
            "commit_after_restore_seconds": round(outage.resumed_at - outage.up_at, 1),
            "backlog_routed_after_restore_seconds": caught,
            "reviews_learned_after_restore_seconds": round(outage.learned_at - outage.up_at, 1),
            "review_ingest_after_restore_seconds": round(outage.ingest_resumed_at - outage.up_at, 1) if outage.ingest_resumed_at else None,
            "learner_after_restore_seconds": round(outage.learner_resumed_at - outage.up_at, 1) if outage.learner_resumed_at else None,
        }
        print(f"{outage.kind} outage:", json.dumps(figures))
        write_figures(f"outage_{outage.kind}", figures)

    assert exited is None, f"the labeler exited ({exited}):\n{log[-3000:]}"
    # the same process throughout: a restart in place (exec) keeps the pid, so its log line is what tells
    assert common["restarts_in_place"] == 0, log[-3000:]
    assert common["lost"] == 0 and common["duplicated"] == 0 and common["dead_letters"] == 0, ledger.duplicated()
    assert 503 not in health["livez"], health  # waiting out an outage is being alive
    # the learner's Kafka client tried to reconnect thousands of times a second (80,000 lines in one CI outage):
    # one line per 10 s of each is left
    floods = [line for line in learner_log.splitlines() if "Unable connect to node" in line]
    assert len(floods) <= 2 * (seconds / 10 + 5), floods[:20]
    for outage in outages:
        during = [status for at, status in prober.ready_log if outage.down_at < at < outage.up_at]
        assert 503 in during, f"/readyz during the {outage.kind} outage: {Counter(during)}"
    after = [status for at, status in prober.ready_log if at > drained_at]
    assert after and all(status == 200 for status in after), Counter(after)
    assert learner_exited is None, f"the learner exited ({learner_exited}):\n{learner_log[-3000:]}"
    assert reviewer_exited is None, f"reviewer-sim exited ({reviewer_exited}):\n{reviewer.log_tail()}"
    assert review_exited is None, f"the review service exited ({review_exited}):\n{review.log_tail()}"
    assert 503 not in learner_health["livez"], learner_health
    # every review answered once, with the true label, and learned exactly once
    assert messages == distinct == reviewed, (messages, distinct, reviewed)
    assert learned == snapshot == distinct, (learned, snapshot, distinct)
    assert len(ledger.human_labels) == reviewed
    assert common["human_labels_wrong"] == 0 and ledger.conflicting_human_labels() == {}


def review_progress(settings, learner) -> dict[str, object]:  # noqa: ANN001
    """Records sent to review, those still without a human label (a few ids), human labels, and the learner's count."""
    ledger = read_ledger(settings)
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    unanswered = [i for i in reviewed if not ledger.human_labels.get(i)]
    return {"sent_to_review": len(reviewed), "unanswered": len(unanswered), "unanswered_ids": unanswered[:5],
            "human_labels": len(ledger.human_labels), "learned": (learner.health() or {}).get("corrections_applied")}


def every_review_learned(settings, learner) -> bool:
    """Every record sent to review has its human label, and the learner learned every one."""
    ledger = read_ledger(settings)
    reviewed = [i for i, outs in ledger.routing.items() if outs == ["review"]]
    if not all(ledger.human_labels.get(i) for i in reviewed):
        return False
    return (learner.health() or {}).get("corrections_applied", -1) >= len(ledger.human_labels)
