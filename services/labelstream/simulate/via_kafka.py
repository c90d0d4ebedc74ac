"""``simulate --via-kafka`` and the demo: the same file through the real services on the local stack.

A run takes its own namespace (topics, groups, Redis keys), starts the
labeler, learner and a simulated reviewer as real processes, produces the
file at a fixed rate, follows the outcome topics until every record is routed
and every review is answered, stops the services and builds the same report
as the in-process simulator.

With a :class:`HumanHalf` (the demo), the reviewing is the real one: the
review service runs too, and ``reviewer-sim --via-api`` sends K simulated
reviewers through its HTTP API (think time, mistakes, leases, overlap), while
a person may open the page with a token of their own and take items as well.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from labelstream.errors import LabelstreamError
from labelstream.kafka.outcomes import Ledger, OutcomeFollower
from labelstream.kafka.reader import read_all
from labelstream.kafka.topics import admin_client, create_topics
from labelstream.processes import ServiceProcess, service, stop_all
from labelstream.produce import ProduceReport, produce_file
from labelstream.review.auth import TokenStore
from labelstream.reviewer_sim import truth_from_file
from labelstream.settings import Settings, namespaced
from labelstream.simulate.report import RecordOutcome, build_report
from labelstream.store.connection import connect


@dataclass(frozen=True)
class HumanHalf:
    """The review service and simulated reviewers working through its API, instead of the oracle."""

    reviewers: int = 4
    error_rate: float = 0.05
    person: str = "you"  # a token of this name is created for a person to open the page with
    seed: int = 0


@dataclass
class Progress:
    """What a live display shows."""

    elapsed: float = 0.0
    sent: int = 0
    total: int = 0
    routed: int = 0
    auto: int = 0
    auto_correct: int = 0
    reviews: int = 0
    answered: int = 0
    deferred: int = 0
    dead_letters: int = 0
    model_version: int = 0
    records_per_second: float = 0.0
    services: dict[str, bool] = field(default_factory=dict)

    @property
    def auto_precision(self) -> float | None:
        return self.auto_correct / self.auto if self.auto else None

    @property
    def review_queue(self) -> int:
        return self.reviews - self.answered


class KafkaRun:
    """One run of a labeled file through the real services."""

    def __init__(
        self,
        settings: Settings,
        data: Path,
        label_column: str,
        id_column: str | None = None,
        rate: float = 200.0,
        reviewer_delay: float = 0.0,
        log_dir: Path | None = None,
        reviewer_accuracy: float = 1.0,
        namespace: str | None = None,
        keep: bool = False,
        human: HumanHalf | None = None,
    ) -> None:
        self.namespace = namespace or f"run-{time.strftime('%Y%m%d-%H%M%S')}"
        self.settings = namespaced(settings, self.namespace)
        self.data = data
        self.label_column = label_column
        self.id_column = id_column
        self.rate = rate
        self.reviewer_delay = reviewer_delay
        self.reviewer_accuracy = reviewer_accuracy
        self.log_dir = log_dir or Path(".stack") / "runs" / self.namespace
        self.keep = keep
        self.truth = truth_from_file(str(data), label_column, id_column)
        if human is not None and not settings.labels.classes and not settings.labels.taxonomy_file:
            # a closed label set, as a real deployment has: the file's labels (in their sorted order: hotkeys 1, 2, ...)
            self.settings = namespaced(settings, self.namespace, labels={"classes": sorted(set(self.truth.values()))})
        self.order = {record_id: index for index, record_id in enumerate(self.truth)}
        self.services: list[ServiceProcess] = []
        self.produced: ProduceReport | None = None
        self._produce_error: BaseException | None = None
        self._first_routed_at: float | None = None
        self.drift_events: list[dict[str, Any]] = []
        self.human = human
        self.review_url: str | None = None
        self.person_token: str | None = None
        self.review_stats: dict[str, Any] | None = None
        self.self_training: dict[str, int] | None = None

    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        idle_timeout: float = 60.0,
        on_started: Callable[[KafkaRun], None] | None = None,
    ) -> dict[str, Any]:
        """Run to completion and return the report (``on_started``: once the services serve, before producing)."""
        if not self.truth:
            raise LabelstreamError(f"{self.data}: no labeled rows in column {self.label_column!r}")
        create_topics(self.settings)
        follower = OutcomeFollower(self.settings)
        started = time.monotonic()
        try:
            self._start_services()
            if on_started is not None:
                on_started(self)
            producer = threading.Thread(target=self._produce, name="producer", daemon=True)
            producer.start()
            self._follow(follower, producer, started, on_progress, idle_timeout)
            self.review_stats = self._review_stats()
            self.self_training = self._self_training()
        finally:
            stop_all(self.services, 20)
            follower.close()
            self.drift_events = self._read_drift_events()
            if not self.keep:
                self._clean_up()
        return self.report(follower.ledger, time.monotonic() - started)

    def _start_services(self) -> None:
        reviewer_args = [
            "--data", str(self.data), "--label-column", self.label_column, "--delay", str(self.reviewer_delay),
            "--accuracy", str(self.reviewer_accuracy),
        ]
        if self.id_column:
            reviewer_args += ["--id-column", self.id_column]
        self.services = [
            service(self.settings, "labeler", self.log_dir, instance="0").start(),
            service(self.settings, "learner", self.log_dir).start(),
        ]
        if self.human is not None:
            review = service(self.settings, "review", self.log_dir).start()
            self.services.append(review)
            review.wait_until_serving()
            self.review_url = f"http://localhost:{review.metrics_port}"
            client = connect(self.settings.redis)
            self.person_token = TokenStore(client, self.settings.redis.key_prefix).add(self.human.person, "reviewer")
            reviewer_args += [
                "--via-api", "--url", self.review_url, "--reviewers", str(self.human.reviewers),
                "--error-rate", repr(self.human.error_rate), "--seed", str(self.human.seed),
            ]
        self.services.append(service(self.settings, "reviewer-sim", self.log_dir, *reviewer_args).start())
        for proc in self.services[:2]:
            proc.wait_until_serving()

    def _review_stats(self) -> dict[str, Any] | None:
        """The review service's ``GET /api/v1/stats`` (answers per reviewer today, agreement), with the person's token."""
        if self.review_url is None or self.person_token is None:
            return None
        request = urllib.request.Request(
            f"{self.review_url}/api/v1/stats", headers={"Authorization": f"Bearer {self.person_token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return dict(orjson.loads(response.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def _self_training(self) -> dict[str, int] | None:
        """The learner's self-training counters at the end (``self_training.enabled``), as the in-process report has them."""
        if not self.settings.self_training.enabled:
            return None
        try:
            text = self.services[1].metrics_text()
        except (urllib.error.URLError, OSError):
            return None
        counts = {}
        for line in text.splitlines():
            if line.startswith("labelstream_self_training_") and "_total " in line:
                name = line.split(" ", 1)[0].removeprefix("labelstream_self_training_").removesuffix("_total")
                counts[name] = int(float(line.rsplit(" ", 1)[1]))
        return counts

    def _produce(self) -> None:
        try:
            self.produced = produce_file(
                self.settings, self.data, id_column=self.id_column, label_column=self.label_column, rate=self.rate
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the follower loop
            self._produce_error = exc

    def _follow(
        self,
        follower: OutcomeFollower,
        producer: threading.Thread,
        started: float,
        on_progress: Callable[[Progress], None] | None,
        idle_timeout: float,
    ) -> None:
        """Follow the outcomes until every record is routed and every review answered."""
        last_change = time.monotonic()
        while True:
            if follower.poll(0.2):
                last_change = time.monotonic()
            if self._produce_error is not None:
                raise self._produce_error
            progress = self.progress(follower.ledger, time.monotonic() - started)
            if on_progress is not None:
                on_progress(progress)
            if not producer.is_alive() and progress.routed >= progress.sent and progress.answered >= progress.reviews:
                return
            for proc in self.services:
                if not proc.alive:
                    raise LabelstreamError(f"{proc.name} stopped unexpectedly:\n{proc.log_tail()}")
            if time.monotonic() - last_change > idle_timeout and not producer.is_alive():
                raise LabelstreamError(
                    f"no progress for {idle_timeout:.0f} s ({progress.routed}/{progress.sent} routed, "
                    f"{progress.answered}/{progress.reviews} reviews answered); logs in {self.log_dir}"
                )

    def progress(self, ledger: Ledger, elapsed: float) -> Progress:
        auto_ids = [i for i, outs in ledger.routing.items() if outs[0] == "label"]
        reviewed = [i for i, outs in ledger.routing.items() if outs[0] == "review"]
        versions = [v.get("model_version") or 0 for v in ledger.routed.values()]
        if ledger.routing and self._first_routed_at is None:
            self._first_routed_at = elapsed
        streaming = elapsed - (self._first_routed_at or elapsed)
        sent = self.produced.sent if self.produced is not None else min(len(self.truth), int(elapsed * self.rate))
        return Progress(
            elapsed=elapsed,
            sent=sent,
            total=len(self.truth),
            routed=len(ledger.routing),
            auto=len(auto_ids),
            auto_correct=sum(ledger.auto_labels[i][0]["label"] == self.truth.get(i) for i in auto_ids),
            reviews=len(reviewed),
            answered=sum(1 for i in reviewed if ledger.human_labels.get(i)),
            deferred=sum(1 for outs in ledger.routing.values() if outs[0] == "deferred"),
            dead_letters=len(ledger.dead_letters),
            model_version=max(versions, default=0),
            records_per_second=len(ledger.routing) / streaming if streaming > 0 else 0.0,
            services={proc.name: proc.alive for proc in self.services},
        )

    def outcomes(self, ledger: Ledger) -> list[RecordOutcome]:
        """One :class:`RecordOutcome` per routed record of the file, in file order."""
        outcomes = []
        for record_id, routed in sorted(ledger.routed.items(), key=lambda item: self.order.get(item[0], 0)):
            if record_id not in self.truth:
                continue
            outcomes.append(self._outcome(record_id, routed, ledger))
        return outcomes

    def _outcome(self, record_id: str, routed: dict, ledger: Ledger) -> RecordOutcome:
        first = ledger.routing[record_id][0]
        final = ledger.final_label(record_id)
        relabeled = bool(final and final.get("relabeled"))
        if first == "label":
            predicted, confidence = routed["label"], routed["confidence"]
        else:
            probabilities = routed.get("probabilities") or {}
            predicted = routed.get("proposed_label")
            confidence = max(probabilities.values(), default=0.0)
        return RecordOutcome(
            index=self.order[record_id],
            id=record_id,
            true_label=self.truth[record_id],
            outcome="label" if relabeled else first,
            reason="confident" if first == "label" else routed["reason"],
            predicted_label=predicted,
            confidence=confidence,
            inclusion_probability=routed.get("inclusion_probability", 1.0),
            label=final["label"] if final else None,
            method=final["method"] if final else None,
            relabeled=relabeled,
            model_version=routed.get("model_version") or 0,
            generation=int((routed.get("context") or {}).get("generation", 0)),
            audit_probability=(routed.get("context") or {}).get("p_audit") if routed.get("reason") == "audit" else None,
        )

    def report(self, ledger: Ledger, elapsed: float) -> dict[str, Any]:
        progress = self.progress(ledger, elapsed)
        extra = {
            "via_kafka": {
                "namespace": self.namespace,
                "seconds": round(elapsed, 2),
                "records_per_second": round(progress.records_per_second, 1),
                "offered_rate": self.rate,
                "dead_letters": progress.dead_letters,
                "missing": len(ledger.missing(self.truth)),
                "duplicated": len(ledger.duplicated()),
                "logs": str(self.log_dir),
            }
        }
        if self.self_training is not None:
            extra["self_training"] = self.self_training
        if self.review_stats is not None:
            extra["review"] = {
                "url": self.review_url,
                "answers_by_reviewer": self.review_stats.get("reviewers", {}),
                "agreement": self.review_stats.get("agreement", {}),
            }
        settings = self.settings.model_dump(mode="json", exclude={"kafka", "redis"})
        return build_report(
            self.outcomes(ledger),
            settings=settings,
            confidence_level=self.settings.policy.confidence_level,
            drift_events=self.drift_events,
            extra=extra,
        )

    def _read_drift_events(self) -> list[dict[str, Any]]:
        """Drift events the services published (detector, service, and the detector's own record count)."""
        events = (orjson.loads(m.value()) for m in read_all(self.settings.kafka, self.settings.topics.events, timeout=10))
        return [{"service": e["service"], **e["detail"]} for e in events if e["kind"] == "drift"]

    def _clean_up(self) -> None:
        """Delete the run's topics and Redis keys."""
        admin = admin_client(self.settings)
        futures = admin.delete_topics(list(self.settings.topics.data_topics().values()), operation_timeout=30)
        for future in futures.values():
            try:
                future.result()
            except Exception:  # noqa: BLE001 - best effort
                pass
        client = connect(self.settings.redis)
        keys = list(client.scan_iter(f"{self.settings.redis.key_prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
