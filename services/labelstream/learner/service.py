"""The learner service: clients, the faust app and its agents, health; the work is done by the package's parts.

:class:`~labelstream.learner.answers.AnswerLearner` learns each correction,
:class:`~labelstream.learner.self_training.SelfTrainingReader` the sure
auto-labels, :class:`~labelstream.learner.versions.VersionPublisher`
restores and publishes model versions; they share one
:class:`~labelstream.learner.pending.Pending`. The rules they keep are in
:mod:`labelstream.learner`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import Consumer, KafkaException, TopicPartition

from labelstream.core.build import build_engine
from labelstream.core.calibration_versions import VersionChangeCheck
from labelstream.core.decode import DecodeError, decode_correction
from labelstream.core.schemas import DeadLetter
from labelstream.drift_handling import DriftHandler, build_monitor
from labelstream.kafka.config import consumer_config, faust_broker_settings
from labelstream.kafka.events import EventPublisher
from labelstream.label_error_metrics import register_label_error_metrics
from labelstream.learner.answers import AnswerLearner
from labelstream.learner.context import LearnerContext
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.learner.self_training import SelfTrainingReader
from labelstream.learner.versions import VersionPublisher
from labelstream.learner.worker import StoppableWorker, remove_empty_dirs
from labelstream.metrics import Metrics
from labelstream.metrics_server import start_metrics_server, stop_metrics_server
from labelstream.review.labelset import LabelSet
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from labelstream.store.recheck_answers import RecheckAnswers
from labelstream.store.records import RecordStore
from labelstream.store.second_reviews import SecondReviews
from labelstream.watchdog import ProgressWatchdog, restart_in_place
from labelstream.weak_metrics import register_weak_metrics

log = logging.getLogger("labelstream.learner")

SERVICE = "learner"
# Corrections waiting and none handled for this long: the consumer is stuck (see ProgressWatchdog).
STALL_SECONDS = 60.0
# /livez turns 503 when faust's event loop has not run the heartbeat timer for this long (a blocked
# loop); waiting out a broker or Redis outage keeps it turning (every wait there is an await or a retry).
LIVENESS_SECONDS = 90.0


class Learner:
    """One learner process per model (``labelstream run learner``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = build_engine(settings)
        self.engine.monitor = build_monitor(settings)
        self.metrics = Metrics.from_settings(SERVICE, settings.metrics)
        self.pending = Pending()
        self.redis = RedisRetry()
        self._watermarks: Consumer | None = None
        self._last_turn = time.monotonic()
        self._started = False
        self._kafka_error = ""
        bar = settings.policy.version_change_reset
        self.version_check = VersionChangeCheck(bar) if bar is not None else None  # see VersionPublisher.check_version_change

        # -- clients ------------------------------------------------------------------------
        redis_client = connect(settings.redis, wait_seconds=30)
        self.store = RecordStore.from_settings(redis_client, settings)
        self.registry = ModelRegistry.from_settings(redis_client, settings)
        self.events = EventPublisher(settings, SERVICE)
        self.drift = DriftHandler(settings, SERVICE, self.metrics, self.events)
        self.metrics.declare_detectors(["calibration_check", *(["version_change"] if self.version_check else [])])
        register_weak_metrics(self.metrics, self.engine)  # labeling functions (weak.functions), if any
        register_label_error_metrics(self.metrics, self.engine)  # label_errors, if enabled

        # -- the parts ----------------------------------------------------------------------
        self.app = self._build_app()
        context = LearnerContext(self.engine, self.pending, self.redis, self.metrics, self.events, self.version_check)
        self.versions = VersionPublisher(
            settings, context, self.registry, RecheckAnswers.from_settings(redis_client, settings), self.versions_topic
        )
        self.versions.restore()
        self.answers = AnswerLearner(
            context, self.store, LabelSet.from_settings(redis_client, settings),
            SecondReviews.from_settings(redis_client, settings),
            {"labels": self.labels_topic, "review": self.review_topic}, self.drift, settings.model.model_name,
        )
        self.self_training = SelfTrainingReader(self.engine, self.store, self.pending, self.redis)
        self._add_agents(self.app)
        # faust can stop fetching after a broker restart without an error: restart in place then
        # (safe: what the last snapshot does not hold is replayed).
        self.progress_watchdog = ProgressWatchdog(self._corrections_waiting, STALL_SECONDS, restart_in_place)

    def _build_app(self) -> faust.App:
        """The faust app and its topics (its agents and timers come once the parts are built: :meth:`_add_agents`)."""
        s = self.settings
        faust_dirs = Path(tempfile.gettempdir()) / "labelstream-faust"
        faust_dirs.mkdir(parents=True, exist_ok=True)
        app = faust.App(
            s.learner.app_id,
            **faust_broker_settings(s.kafka),
            value_serializer="raw",
            key_serializer="raw",
            web_enabled=False,
            # faust makes a data directory for tables even when there are none (the learner keeps its state
            # in Redis): in the temp dir, not "<app_id>-data" in whatever directory the learner was started in;
            # removed on stop when it holds no file.
            datadir=faust_dirs / f"{s.learner.app_id}-data",
            stream_wait_empty=False,
            topic_disable_leader=True,
            topic_allow_declare=False,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=1.0,
            # A learner killed with -9 is replaced within seconds, not faust's default minute.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=3.0,
            broker_rebalance_timeout=20.0,
        )
        self.corrections_topic = app.topic(s.topics.corrections, value_serializer="raw", key_serializer="raw")
        self.labels_topic = app.topic(s.topics.labels, value_serializer="raw", key_serializer="raw")
        self.dlq_topic = app.topic(s.topics.dlq, value_serializer="raw", key_serializer="raw")
        self.review_topic = app.topic(s.topics.review, value_serializer="raw", key_serializer="raw")
        self.versions_topic = app.topic(s.topics.model_versions, value_serializer="raw", key_serializer="raw")
        return app

    def _add_agents(self, app: faust.App) -> None:
        """The agents on corrections (and labels, for self-training), the timers, the shutdown hook."""
        app.agent(self.corrections_topic, name="learn-corrections")(self._agent)
        if self.engine.self_training is not None:
            app.agent(self.labels_topic, name="self-training")(self._self_training_agent)
        app.timer(interval=self.settings.learner.publish_every_seconds)(self.versions.on_timer)
        app.timer(interval=1.0)(self._heartbeat)
        app.on_before_shutdown.connect(self._on_shutdown)

    # -- the agents ----------------------------------------------------------------------------

    async def _agent(self, stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            await self._handle(event.message)
            self.pending.acks.append((stream, event))
            if len(self.pending.unpublished) >= self.settings.learner.publish_every_corrections and not self.pending.publishing:
                await self.versions.publish()

    async def _self_training_agent(self, stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            await self.self_training.handle(event.message)
            self.pending.acks.append((stream, event))

    async def _handle(self, message: Any) -> None:
        """Learn one correction (or dead-letter it), unless the latest snapshot already holds it."""
        self.progress_watchdog.progress()
        tp = f"{message.topic}:{message.partition}"
        if self.pending.learned(tp, message.offset):
            return
        correction = decode_correction(message.value, message.key)
        if isinstance(correction, DecodeError):
            self.pending.advance(tp, message.offset)
            await self._dead_letter(message, correction.kind, correction.message)
            return
        # The offset advances together with the learning (no await between): a snapshot the timer
        # takes while this waits on Redis never holds an offset whose correction is not learned.
        problem = await self.answers.learn(correction, tp, message.offset)
        if problem is not None:
            self.pending.advance(tp, message.offset)
            await self._dead_letter(message, *problem)

    async def _dead_letter(self, message: Any, kind: str, error: str) -> None:
        letter = DeadLetter.from_raw(
            message.value, message.key, kind, error, message.topic, SERVICE, message.partition, message.offset
        )
        key = message.key or f"{message.topic}:{message.partition}:{message.offset}".encode()
        self.pending.sends.append(await self.dlq_topic.send(key=key, value=letter.model_dump_json().encode()))
        self.metrics.record_corrections(1, kind)

    async def _on_shutdown(self, *_args: Any, **_kwargs: Any) -> None:
        if self.pending.has_learned():
            await self.versions.publish()

    def _corrections_waiting(self) -> bool:
        """Whether ``corrections`` holds messages past what this learner has handled."""
        if self._watermarks is None:
            self._watermarks = Consumer(consumer_config(self.settings.kafka, f"{self.settings.learner.app_id}-watchdog"))
        topic = self.settings.topics.corrections
        partitions = self._watermarks.list_topics(topic, timeout=10).topics[topic].partitions
        for partition in partitions:
            _low, high = self._watermarks.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > self.pending.offsets.get(f"{topic}:{partition}", 0) + 1:  # + 1: a transaction marker may end it
                return True
        return False

    # -- running -------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        self._last_turn = time.monotonic()
        self._started = True

    def _watch_broker(self, every: float = 5.0) -> None:
        """On a thread: ask the broker for the corrections topic's metadata every few seconds (for ``/readyz``)."""
        probe = Consumer(consumer_config(self.settings.kafka, f"{self.settings.learner.app_id}-probe"))
        topic = self.settings.topics.corrections
        while True:
            try:
                probe.list_topics(topic, timeout=every)
                self._kafka_error = ""
            except KafkaException as exc:
                self._kafka_error = f"kafka: {exc}"
            time.sleep(every)

    def liveness(self) -> tuple[bool, dict]:
        """Alive while faust's event loop turns (waiting out an outage included; idle included)."""
        idle_for = time.monotonic() - self._last_turn
        return idle_for < LIVENESS_SECONDS, {"loop_seconds_since_turn": round(idle_for, 1)}

    def health(self) -> tuple[bool, dict]:
        """Ready when started and neither Redis nor the broker failed its last call (``/readyz``, ``/healthz``)."""
        problem = self.redis.last_error or self._kafka_error or ("" if self._started else "starting")
        return not problem, {
            "model_version": self.engine.model_version,
            "corrections_applied": self.pending.corrections_applied,
            "last_error": problem,
        }

    def run(self, loglevel: str = "warning") -> None:
        """Run the faust worker until SIGTERM/SIGINT."""
        server, port = start_metrics_server(
            self.settings.learner.metrics_port, self.health, self.metrics, liveness=self.liveness
        )
        self.progress_watchdog.start()
        threading.Thread(target=self._watch_broker, name="broker-probe", daemon=True).start()
        log.info("learner: metrics and health on :%d", port)
        try:
            worker = StoppableWorker(self.app, loglevel=loglevel, quiet=True)
            worker.execute_from_commandline()
        finally:
            stop_metrics_server(server)
            self.events.flush(5)
            remove_empty_dirs(Path(self.app.conf.datadir))


def run_learner(settings: Settings, loglevel: str = "warning") -> None:
    """Entry point of ``labelstream run learner``."""
    Learner(settings).run(loglevel)
