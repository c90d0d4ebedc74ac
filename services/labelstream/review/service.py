"""``labelstream run review``: the review service process.

Settings -> clients -> loops. Three threads beside the web server:

- *ingest*: ``review`` topic -> queue (:mod:`~labelstream.review.ingest`);
- *publisher* (leader only): outbox -> ``corrections`` (:mod:`~labelstream.review.outbox`);
- *maintenance*, every second: expired leases back to the queue, overlap
  items consolidated, gold answers past their undo window scored and published
  (:mod:`~labelstream.review.gold`), records no expert took back to the reviewers (leader only),
  queue gauges, a Kafka reachability check.

A Redis or broker outage stops none of them: each retries and ``/readyz``
answers 503 until both are back (the API answers 503 while Redis is down;
answers accepted while the broker is down wait in the outbox).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import uvicorn
from confluent_kafka import KafkaException

from labelstream.errors import PortInUse
from labelstream.review.api import ReviewContext, create_app, create_ops_app
from labelstream.review.auth import TokenStore
from labelstream.review.consolidation import Consolidator
from labelstream.review.gold import GoldSet
from labelstream.review.gold_proposals import LiveProposals
from labelstream.review.guidelines import GuidelinesFile
from labelstream.review.holds import ReviewerHolds
from labelstream.review.ingest import ReviewIngest
from labelstream.review.labelset import LabelSet
from labelstream.review.leader import LeaderLock
from labelstream.review.metrics import ReviewMetrics
from labelstream.review.outbox import OutboxPublisher, PublisherLoop
from labelstream.review.queue import ReviewQueue
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

log = logging.getLogger("labelstream.review")

STALE_SECONDS = 60.0
"""A loop that has not turned for this long makes /livez fail."""
PUBLISH_LAG_SECONDS = 30.0
"""Answers waiting in the outbox with no successful publish for this long make /readyz fail."""
KAFKA_CHECK_SECONDS = 5.0


class ReviewService:
    """One review service process (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.metrics = ReviewMetrics()
        # -- clients ----------------------------------------------------------------------------
        self.redis = connect(settings.redis, wait_seconds=30)
        self.queue = ReviewQueue.from_settings(self.redis, settings)
        self.labels = LabelSet.from_settings(self.redis, settings)
        self.leader = LeaderLock(self.redis, settings.redis.key_prefix)
        self.publisher = OutboxPublisher(
            settings, self.redis, self.leader, on_published=lambda kind: self.metrics.published.labels(kind).inc()
        )
        self.publisher_loop = PublisherLoop(self.publisher)
        self.ingest = ReviewIngest(settings, self.queue)
        self.consolidator = Consolidator(
            self.queue, self.metrics, settings.review.consolidation, settings.review.adjudication, self.labels.labels(),
            settings.review.adjudication_timeout_seconds,
        )
        self.gold = GoldSet(self.redis, settings.redis.key_prefix)
        self.holds = ReviewerHolds(self.redis, self.gold, settings.review.gold_hold_below,
                                   settings.review.gold_hold_min_answers)
        proposals = (LiveProposals(settings, ModelRegistry.from_settings(self.redis, settings))
                     if settings.review.gold_proposals == "model" else None)
        self.context = ReviewContext(
            settings=settings,
            queue=self.queue,
            tokens=TokenStore(self.redis, settings.redis.key_prefix),
            labels=self.labels,
            guidelines=GuidelinesFile(settings.review.guidelines_file),
            metrics=self.metrics,
            consolidator=self.consolidator,
            gold=self.gold,
            holds=self.holds,
            propose=proposals.propose if proposals is not None else None,
            live=self.live,
            ready=self.ready,
        )
        self.app = create_app(self.context)
        self._maintenance_beat = time.monotonic()
        self._kafka_ok = True
        self._kafka_checked = 0.0
        self._threads: list[threading.Thread] = []

    # -- loops -------------------------------------------------------------------------------------

    def _maintain(self, stop: threading.Event) -> None:
        """Every second: reap and consolidate (leader), refresh gauges, check Kafka."""
        last_load = 0.0
        while not stop.wait(1.0):
            self._maintenance_beat = time.monotonic()
            try:
                if self.publisher_loop.is_leader:
                    self.metrics.leases_expired.inc(self.queue.reap())
                    self.consolidator.run_once()
                    self.metrics.record_gold(*self.gold.finalize())
                    if timed_out := self.queue.time_out_experts():
                        self.metrics.expert_timeouts.inc(timed_out)
                        log.warning("%d records waited %.0f s for an expert in vain: back to the other reviewers",
                                    timed_out, self.settings.review.expert_wait_seconds)
                elif time.monotonic() - last_load > 5:  # another instance consolidates: follow its state
                    self.consolidator.load()
                    last_load = time.monotonic()
                counts = self.queue.counts()
                self.metrics.set_queue(counts.waiting, counts.leased, counts.outbox, counts.expert)
            except redis.RedisError as exc:
                log.warning("redis unavailable: %s", exc)
            if time.monotonic() - self._kafka_checked > KAFKA_CHECK_SECONDS:
                self._kafka_ok = self._check_kafka()
                self._kafka_checked = time.monotonic()

    def _check_kafka(self) -> bool:
        try:
            topic = self.settings.topics.corrections
            return not self.publisher.producer.list_topics(topic, timeout=3).topics[topic].error
        except (KafkaException, KeyError):
            return False

    # -- probes ------------------------------------------------------------------------------------

    def live(self) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        beats = {
            "ingest": now - self.ingest.heartbeat,
            "publisher": now - self.publisher_loop.heartbeat,
            "maintenance": now - self._maintenance_beat,
        }
        stale = [name for name, age in beats.items() if age > STALE_SECONDS]
        dead = [t.name for t in self._threads if not t.is_alive()]
        return not stale and not dead, {"stale_loops": stale, "dead_threads": dead}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        problems = []
        try:
            self.redis.ping()
            outbox = self.redis.llen(self.publisher.outbox_key)
        except redis.RedisError as exc:
            problems.append(f"redis: {exc}")
            outbox = None
        if not self._kafka_ok:
            problems.append(f"kafka: {self.settings.kafka.bootstrap_servers} does not answer")
        lag = time.monotonic() - self.publisher.last_success
        if self.publisher_loop.is_leader and outbox and lag > PUBLISH_LAG_SECONDS:
            problems.append(f"outbox: {outbox} answers unpublished for {lag:.0f} s ({self.publisher.last_error})")
        return not problems, {
            "problems": problems,
            "leader": self.publisher_loop.is_leader,
            "unpublished": outbox,
            "enqueued": self.ingest.enqueued,
            "ingest_stalls": self.ingest.stalls,  # consumers replaced after a stall (review.ingest_stall_seconds)
            "ingest_rejoins": self.ingest.rejoins,  # consumers replaced after a fatal error (a fencing)
            "ingest_session_rejoins": self.ingest.session_rejoins,  # ... after a static member's session timed out
        }

    # -- running -----------------------------------------------------------------------------------

    def start_threads(self) -> None:
        loops: dict[str, Callable[[threading.Event], None]] = {
            "review-ingest": self.ingest.run,
            "review-publisher": self.publisher_loop.run,
            "review-maintenance": self._maintain,
        }
        for name, target in loops.items():
            thread = threading.Thread(target=target, args=(self.stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(15)
        self.publisher.close()
        try:
            self.leader.release()
        except redis.RedisError:
            pass

    def run(self, port: int | None = None) -> None:
        """Serve until SIGTERM/SIGINT (``/metrics`` and the probes on ``review.ops_port``, if set, from a thread)."""
        review = self.settings.review
        sock = _bind(review.host, review.port if port is None else port)
        ops = _bind(review.host, review.ops_port) if review.ops_port is not None else None
        if self.labels.is_open():
            log.warning("no label set defined: reviewers may give any label (set labels.classes, or labelstream labels add NAME)")
        self.start_threads()
        log.info(
            "review: page and API on http://localhost:%d/ (a token: labelstream review token add NAME)",
            sock.getsockname()[1],
        )
        ops_server = None
        if ops is not None:  # uvicorn takes signals only in the main thread: the page's server stops this one
            ops_server = uvicorn.Server(_server_config(create_ops_app(self.context)))
            threading.Thread(target=ops_server.run, kwargs={"sockets": [ops]}, name="review-ops", daemon=True).start()
            log.info("review: /metrics and probes on http://localhost:%d/ (review.ops_port)", ops.getsockname()[1])
        try:
            uvicorn.Server(_server_config(self.app)).run(sockets=[sock])
        finally:
            if ops_server is not None:
                ops_server.should_exit = True
            self.shutdown()


def _bind(host: str, wanted: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, wanted))
    except OSError as exc:
        sock.close()
        raise PortInUse(f"port {wanted} on {host} is taken ({exc.strerror})", wanted) from exc
    return sock


def _server_config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5)


def run_review(settings: Settings, port: int | None = None) -> None:
    """Entry point of ``labelstream run review``."""
    ReviewService(settings).run(port)
