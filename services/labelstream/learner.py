"""The learner: a faust agent on ``corrections`` that learns each human answer exactly once.

For each correction: join the record's features from Redis (unknown or expired
-> DLQ), learn, emit the human label to ``labels`` (``method=human``). Every
``publish_every_corrections`` corrections or ``publish_every_seconds`` it
publishes a model version: a signed snapshot in Redis, announced on
``model-versions``.

Exactly-once learning: a snapshot records, per corrections partition, the
next offset it has learned. Events are acked (so faust commits their offsets)
only once a snapshot holding them is published; on restart the learner
resumes from its latest snapshot and skips events it already holds. A crash
therefore replays exactly the corrections not in the last snapshot. The human
labels of replayed corrections may be emitted twice: same id, same label,
harmless by construction (at-least-once on that path). None is lost: a
snapshot is published only once the broker has confirmed every human label
and dead letter of the corrections it holds.

The recheck's answers (``policy.version_recheck``: the model inputs of the
generation's answered records, which each new version is re-tested on) are
stored beside each published version (:mod:`labelstream.store.recheck_answers`)
and read back on restart, so a restarted learner keeps validating its
thresholds instead of withdrawing them until new answers come.

Health: ``/livez`` says faust's event loop turns (a heartbeat timer; waiting
out an outage is alive, and so is idle); ``/readyz`` (and ``/healthz``) says
it can learn now: started, the broker answers a metadata request, Redis
answered its last call.

Corrections from the review service (``Correction.kind``): a label outside the
label set is dead-lettered (``unknown_label``); an ``answer`` is learned; an
``overlap`` answer is not learned alone, the ``consensus`` of its item is
(emitted with ``method=consensus``), so an overlap item is learned once (with
``policy.reviewer_accuracy_from_overlap`` its first two answers also teach the
policy's reviewer-accuracy bound, which ships with each model version, and its
first answer, not the consensus, is the policy's evidence); a
``retraction`` (a reviewer's undo) is not learned and changes nothing: the
answer it withdraws is already in the model (an online model cannot forget one
example), and the reviewer's new answer follows as a correction of its own, is
learned after it, and supersedes it on ``labels`` (the latest human label wins).
The new answer names the one it replaces (``supersedes``, set by the review
queue after an undo as after a correction), so the record's evidence, counted
with the first answer, is not counted again (``Correction.counted_before``; a
bet placed cannot be taken back) — on the held path below too.

Label-error detection (``label_errors.enabled``, docs/label-errors.md): an
``answer`` that a confident model contradicts (online confident learning,
:mod:`labelstream.core.label_errors`) is **held**: its evidence feeds the
policy at once, as any answer's does (holding it back would bias the
contract's evidence; not when it supersedes an answer already counted), but
the model does not learn it; the learner asks the review service for a second
review (a ``review`` request with reason ``disagreement`` and the flagged
answer) and learns the consensus of both answers when it comes, as model
training only (no second evidence). The hold
is written to Redis before the request is sent, so that a replayed answer is
held again, never learned alone as well; the request's delivery is confirmed
before any snapshot holds the answer's offset, so it is never lost.

Self-training (``self_training.enabled``, docs/self-training.md): a second
agent reads ``labels`` back; an automatic label (``auto``/``weak``) scored at
least ``self_training.min_confidence`` is joined with its features (the
labeler keeps those auto-labels in Redis when self-training is on) and
learned with weight ``self_training.weight``, while the policy's audits allow
(:mod:`labelstream.core.self_training`). Its offsets are in the snapshots
like the corrections', so a crash replays exactly the labels no version
holds. The learner reads uncommitted messages (faust): a label of a batch the
labeler redid after an aborted transaction is read twice and learned once (a
window of recent ids); one whose transaction never committed may be learned
(the model's own sure prediction, at a weight below 1).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import tempfile
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import faust
import orjson
import redis
from confluent_kafka import Consumer, KafkaException, TopicPartition

from labelstream.core.build import build_engine
from labelstream.core.calibration_versions import VersionChangeCheck, evidence_margin
from labelstream.core.decode import DecodeError, decode_correction
from labelstream.core.policy import Prediction
from labelstream.core.schemas import Correction, DeadLetter, FlaggedAnswer, Label, Record, ReviewRequest
from labelstream.core.snapshot import ModelState
from labelstream.drift_handling import DriftHandler, build_monitor
from labelstream.kafka.config import consumer_config, faust_broker_settings
from labelstream.kafka.events import EventPublisher
from labelstream.label_error_metrics import register_label_error_metrics
from labelstream.metrics import Metrics, start_metrics_server, stop_metrics_server
from labelstream.policy_metrics import export_policy_metrics
from labelstream.review.labelset import LabelSet
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from labelstream.store.recheck_answers import RecheckAnswers
from labelstream.store.records import RecordStore, StoredRecord
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
# Corrections that are not learned, by kind -> the result counted (labelstream_corrections_total).
NOT_LEARNED = {"overlap": "overlap_answer", "retraction": "retracted"}
# Labels on ``labels`` that self-training may learn (not the human ones: those came as corrections).
AUTO_METHODS = frozenset({"auto", "weak"})
# A second review is served before new records: the model waits for it.
SECOND_REVIEW_PRIORITY = 1.0


class Learner:
    """One learner process per model (``labelstream run learner``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = build_engine(settings)
        self.engine.monitor = build_monitor(settings)
        self.metrics = Metrics.from_settings(SERVICE, settings.metrics)
        self.offsets: dict[str, int] = {}
        self.corrections_applied = 0
        self._unpublished: list[float] = []  # correction timestamps learned since the last version
        self._self_taught = 0  # auto-labels learned since the last version (self-training)
        # Clear from taking a snapshot's state to storing it (or freezing a copy): the agents wait (_snapshot_stored).
        self._stored = asyncio.Event()
        self._stored.set()
        self._pending_acks: list[tuple[Any, Any]] = []
        # Deliveries of the human labels and dead letters sent since the last version (see _delivered).
        self._sends: list[Awaitable[Any]] = []
        self._deliveries: list[Any] = []  # second-review requests sent, confirmed before the next snapshot
        self._publishing = False
        self._watermarks: Consumer | None = None
        self._last_error = ""
        self._last_turn = time.monotonic()
        self._started = False
        self._kafka_error = ""
        self._challenger_won = False
        bar = settings.policy.version_change_reset
        self.version_check = VersionChangeCheck(bar) if bar is not None else None  # see _check_version_change

        # -- clients ------------------------------------------------------------------------
        redis_client = connect(settings.redis, wait_seconds=30)
        self.store = RecordStore.from_settings(redis_client, settings)
        self.registry = ModelRegistry.from_settings(redis_client, settings)
        self.label_set = LabelSet.from_settings(redis_client, settings)
        self.second_reviews = SecondReviews.from_settings(redis_client, settings)
        self.recheck_answers = RecheckAnswers.from_settings(redis_client, settings)
        self.events = EventPublisher(settings, SERVICE)
        self.drift = DriftHandler(settings, SERVICE, self.metrics, self.events)
        self.metrics.declare_detectors(["calibration_check", *(["version_change"] if self.version_check else [])])
        register_weak_metrics(self.metrics, self.engine)  # labeling functions (weak.functions), if any
        register_label_error_metrics(self.metrics, self.engine)  # label_errors, if enabled
        self._restore()
        self.app = self._build_app()
        # faust can stop fetching after a broker restart without an error: restart in place then
        # (safe: what the last snapshot does not hold is replayed).
        self.progress_watchdog = ProgressWatchdog(self._corrections_waiting, STALL_SECONDS, restart_in_place)

    # -- state ---------------------------------------------------------------------------------

    def _restore(self) -> None:
        """Resume from the latest snapshot: model, learned policy state, and learned offsets."""
        state = self.registry.load_latest()
        if state is None:
            log.info("no model version yet: starting a fresh %s model", self.settings.model.name)
            return
        self.engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
        self._restore_kept_answers(state.version)
        self.offsets = dict(state.source_offsets)
        # Not model.n_learned: a challenger that won is a new model that learned only a recent window.
        self.corrections_applied = int(state.metrics.get("corrections_applied", state.model.n_learned))
        self.metrics.set_model(state.version, state.created_at, self.settings.model.model_name, state.model.name)
        log.info("resumed from model version %d (%d corrections learned)", state.version, state.model.n_learned)

    def _restore_kept_answers(self, version: int) -> None:
        """The recheck's answers stored with ``version`` (see :mod:`labelstream.store.recheck_answers`): without
        them the next version's recheck would have no evidence and withdraw every threshold."""
        load = getattr(self.engine.policy, "load_kept_answers", None)
        if load is None or getattr(self.engine.policy, "recheck", None) is None:
            return
        adopted = load(self.recheck_answers.load(version))
        log.info("recheck: %d answers of the generation kept from version %d", adopted, version)

    def _save_kept_answers(self, version: int, kept: dict[str, Any] | None) -> None:
        """Store the recheck's answers of ``version`` beside it; a failure only costs validations after a restart."""
        if kept is None:
            return
        try:
            self.recheck_answers.save(version, kept)
        except redis.RedisError as exc:
            log.warning("recheck answers of version %d not stored (a restart from it withdraws until new answers "
                        "validate again): %s", version, exc)

    def _build_app(self) -> faust.App:
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
        app.agent(self.corrections_topic, name="learn-corrections")(self._agent)
        if self.engine.self_training is not None:
            app.agent(self.labels_topic, name="self-training")(self._self_training_agent)
        app.timer(interval=s.learner.publish_every_seconds)(self._on_timer)
        app.timer(interval=1.0)(self._heartbeat)
        app.on_before_shutdown.connect(self._on_shutdown)
        return app

    # -- the agent -----------------------------------------------------------------------------

    async def _agent(self, stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            await self._handle(event.message)
            self._pending_acks.append((stream, event))
            if len(self._unpublished) >= self.settings.learner.publish_every_corrections and not self._publishing:
                await self._publish()

    async def _self_training_agent(self, stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            await self._self_train(event.message)
            self._pending_acks.append((stream, event))

    async def _self_train(self, message: Any) -> None:
        """Learn one auto-label read back from ``labels`` if it is sure enough (see the module docstring)."""
        tp = f"{message.topic}:{message.partition}"
        if message.offset < self.offsets.get(tp, 0):
            return
        trainer = self.engine.self_training
        label = _auto_label(message.value)
        record_id = message.key.decode() if message.key else ""
        if label is None or label[1] < trainer.min_confidence or not record_id or not trainer.first_time(record_id):
            self.offsets[tp] = message.offset + 1
            return
        stored = await self._get_stored(record_id)
        await self._snapshot_stored()
        # From here to the offset, no await: a snapshot holds this label's learning and its offset, or neither.
        if stored is None:
            trainer.unjoinable += 1
        else:
            subject = _record_of(stored) if self.engine.needs_record else stored.features
            name, confidence = label
            if self.engine.learn_auto_label(subject, Prediction({name: confidence}, name, confidence)):
                self._self_taught += 1
        self.offsets[tp] = message.offset + 1

    async def _snapshot_stored(self) -> None:
        """Wait while a snapshot is being taken; the last await before an agent learns.

        A snapshot copies the offsets first and pickles the model when it stores it, after
        awaiting the deliveries: what an agent learned in between was in the model and not
        in the offsets, so a crash before the next version replayed it (learned twice).
        Set, it returns without yielding (the caller's next steps run before any other task).
        Woken, it looks again: another snapshot may have begun before this task ran.
        """
        while not self._stored.is_set():
            await self._stored.wait()

    async def _handle(self, message: Any) -> None:
        """Learn one correction (or dead-letter it), unless the latest snapshot already holds it."""
        self.progress_watchdog.progress()
        tp = f"{message.topic}:{message.partition}"
        if message.offset < self.offsets.get(tp, 0):
            return
        correction = decode_correction(message.value, message.key)
        if isinstance(correction, DecodeError):
            self.offsets[tp] = message.offset + 1
            await self._dead_letter(message, correction.kind, correction.message)
            return
        # The offset advances together with the learning (no await between): a snapshot the timer
        # takes while this waits on Redis never holds an offset whose correction is not learned.
        problem = await self._learn(correction, tp, message.offset)
        if problem is not None:
            self.offsets[tp] = message.offset + 1
            await self._dead_letter(message, *problem)

    async def _learn(self, correction: Correction, tp: str, offset: int) -> tuple[str, str] | None:
        """Join, learn and emit the human label; (kind, reason) when it cannot be learned."""
        problem = await self._label_problem(correction.label)
        if problem is not None:
            return problem
        if correction.kind in NOT_LEARNED:  # see the module docstring
            self.offsets[tp] = offset + 1
            self.metrics.record_corrections(1, NOT_LEARNED[correction.kind])
            return None
        stored = await self._get_stored(correction.id)
        if stored is None:
            return "unknown_record", f"record {correction.id!r} is unknown or its features expired (redis.record_ttl_seconds)"
        if await self._held_for_second_review(correction, stored, tp, offset):
            return None
        # A second review's consensus: its first answer was evidence already (see the module docstring).
        held = await self._redis(self.second_reviews.get, correction.id) if correction.kind == "consensus" else None
        await self._snapshot_stored()  # the last await before the learning and its offset
        self._referee_challenger(stored.features, correction.label)
        generation = getattr(self.engine.policy, "drift_generation", 0)
        # With labeling functions or a text featurizer the whole record goes in (LF votes, its text).
        subject = _record_of(stored) if self.engine.needs_record else stored.features
        evidence = None if held is not None or correction.counted_before else stored.evidence(self._evidence_label(correction), correction.timestamp)
        if self.version_check is not None:  # the answered records: reviews, and the audits of the auto region
            self.version_check.observe(self.engine.featurizer.transform_one(stored.features))
        self.engine.learn(subject, correction.label, evidence)
        # After the evidence: its bet used the bar in force before this item's answers (docs/contract.md, 5).
        if held is None and not correction.counted_before and correction.answers and len(correction.answers) >= 2 and hasattr(self.engine.policy, "learn_overlap"):
            self.engine.policy.learn_overlap(list(correction.answers.values())[:2])  # the bound ships with the version
        if held is not None and self.engine.label_errors is not None:
            self.engine.label_errors.resolve(held["label"], correction.label)
        self.offsets[tp] = offset + 1
        if getattr(self.engine.policy, "drift_generation", 0) > generation:  # the policy's calibration check fired
            self.metrics.record_drift("calibration_check")
            self.events.publish("drift", detector="calibration_check", record_id=correction.id, reactions=["policy"])
        self.drift.handle(self.engine)
        if stored.outcome == "review":
            try:
                self.store.review_answered()
            except redis.RedisError as exc:  # a gauge: not worth crashing the agent after the learning
                log.warning("review backlog not updated: %s", exc)
        self.corrections_applied += 1
        self._unpublished.append(correction.timestamp)
        self.metrics.record_corrections(1, "learned")
        consensus = correction.kind == "consensus"
        label = Label(
            id=correction.id,
            label=correction.label,
            confidence=correction.confidence if consensus and correction.confidence is not None else 1.0,
            method="consensus" if consensus else "human",
            model_version=self.engine.model_version or None,
            policy=stored.reason,
            reviewer=None if consensus else correction.reviewer,
        )
        self._sends.append(await self.labels_topic.send(key=correction.id.encode(), value=label.model_dump_json().encode()))
        return None

    def _evidence_label(self, correction: Correction) -> str:
        """The label the policy's evidence compares with: with a reviewer-accuracy bound, an overlap item's first answer.

        The bound measures one reviewer's accuracy, so the evidence must be one reviewer's answer: the
        consensus is more accurate than that, and an agreement bar lowered for one reviewer's errors would
        then overstate the precision (docs/contract.md, Noisy reviewers). The model still learns the consensus.
        """
        if correction.answers and getattr(self.engine.policy, "reviewer_bound", None) is not None:
            return next(iter(correction.answers.values()))
        return correction.label

    def _check_version_change(self) -> None:
        """``policy.version_change_reset``: a new calibration generation when the version about to be published
        labels more than the bar's share of the recent would-be auto-labels differently from the last one.

        The recent records are the learned corrections' (the learner sees no other records' features): reviews
        near the thresholds and the audits, which sample the auto region (docs/contract.md).
        """
        calibrator = getattr(self.engine.policy, "calibrator", None)
        if self.version_check is None or calibrator is None:
            return
        thresholds = calibrator.thresholds()
        generation = getattr(self.engine.policy, "generation", None)
        if self.version_check.changed(self.engine.model, thresholds, generation, evidence_margin(calibrator, thresholds)):
            region, share = self.version_check.last
            self.engine.policy.on_drift("version_change")
            self.metrics.record_drift("version_change")
            self.events.publish("drift", detector="version_change", reactions=["policy"], region=region, share=share)
            log.warning("the new model version labels %.1f %% of %d recent would-be auto-labels differently: "
                        "new calibration generation", 100 * share, region)

    async def _held_for_second_review(self, correction: Correction, stored: StoredRecord, tp: str, offset: int) -> bool:
        """Hold an answer a confident model contradicts (``label_errors``); whether it was held.

        Only a review-service answer (it has an ``answer_id``) is checked: its
        item can be reopened for one more reviewer.
        """
        detector = self.engine.label_errors
        if detector is None or correction.kind != "answer" or correction.answer_id is None:
            return False
        subject = _record_of(stored) if self.engine.needs_record else stored.features
        flag, probabilities = self.engine.check_answer(subject, correction.label)
        held_before = await self._redis(self.second_reviews.get, correction.id)
        replayed = held_before is not None and held_before.get("answer_id") == correction.answer_id
        if flag is None and not replayed:
            detector.learn_one(probabilities, correction.label)
            return False
        suggested = flag.suggested if flag is not None else str(held_before.get("suggested", ""))
        confidence = flag.confidence if flag is not None else float(probabilities.get(suggested, 0.0))
        await self._redis(
            self.second_reviews.hold, correction.id, correction.answer_id, correction.reviewer, correction.label, suggested
        )
        request = ReviewRequest(
            id=correction.id,
            record=_record_of(stored) if stored.record_json is not None else Record(id=correction.id, features=stored.features),
            proposed_label=max(stored.probabilities, key=stored.probabilities.get) if stored.probabilities else None,
            probabilities=stored.probabilities,
            reason="disagreement",
            priority=SECOND_REVIEW_PRIORITY,
            inclusion_probability=stored.inclusion_probability,
            model_version=stored.model_version,
            context=stored.context,
            flagged_answer=FlaggedAnswer(
                answer_id=correction.answer_id, reviewer=correction.reviewer, label=correction.label,
                suggested_label=suggested, confidence=min(1.0, max(0.0, confidence)),
            ),
        )
        # Sent before the offset advances: a snapshot that holds the offset also waits for this delivery.
        self._deliveries.append(
            await self.review_topic.send(key=correction.id.encode(), value=request.model_dump_json().encode())
        )
        await self._snapshot_stored()
        # From here to the offset, no await: a snapshot holds all of this answer's effects or none.
        detector.learn_one(probabilities, correction.label, flagged=True)
        generation = getattr(self.engine.policy, "drift_generation", 0)
        if not correction.counted_before:  # a superseding answer (an undo or a correction): its record counted once
            self.engine.learn_evidence(stored.evidence(correction.label, correction.timestamp), self.engine.model_input(subject))
        self.offsets[tp] = offset + 1
        if getattr(self.engine.policy, "drift_generation", 0) > generation:
            self.metrics.record_drift("calibration_check")
            self.events.publish("drift", detector="calibration_check", record_id=correction.id, reactions=["policy"])
        self.drift.handle(self.engine)
        self.metrics.record_corrections(1, "held_for_second_review")
        log.info("answer %s (%s) held for a second review: the model says %s (%.2f)",
                 correction.answer_id, correction.label, suggested, confidence)
        return True

    async def _redis(self, call: Any, *args: Any) -> Any:
        """A Redis call that waits out a Redis restart."""
        while True:
            try:
                result = call(*args)
            except redis.RedisError as exc:
                self._last_error = f"redis: {exc}"
                log.warning("redis unavailable, retrying: %s", exc)
                await asyncio.sleep(0.5)
                continue
            self._last_error = ""
            return result

    async def _label_problem(self, label: str) -> tuple[str, str] | None:
        """``unknown_label`` when the label set is defined and lacks ``label``; waits out a Redis restart."""
        while True:
            try:
                if label in self.label_set:
                    return None
                return "unknown_label", (
                    f"label {label!r} is not in the label set ({self.label_set.describe()}); "
                    "an admin adds one with: labelstream labels add NAME"
                )
            except redis.RedisError as exc:
                self._last_error = f"redis: {exc}"
                log.warning("redis unavailable, retrying: %s", exc)
                await asyncio.sleep(0.5)

    async def _get_stored(self, record_id: str) -> StoredRecord | None:
        """The record's features; while Redis is down (restarting), wait rather than dead-letter good data."""
        return await self._redis(self.store.get, record_id)

    def _referee_challenger(self, features: dict[str, Any], label: str) -> None:
        """Show a running challenger the answer (before anyone learns it), and adopt it if it now wins."""
        reaction = self.drift.reaction
        if reaction.challenger is None or not reaction.challenger.active:
            return
        x = self.engine.featurizer.transform_one(features)
        champion = self.engine.predict([features])[0].label
        reaction.observe_answer(x, label, champion)
        winner = reaction.take_winner()
        if winner is not None:
            self.engine.model = winner
            self.engine.policy.on_drift("challenger")  # a new model's scores need their own evidence
            self._challenger_won = True
            self.events.publish("rollback", model_name=self.settings.model.model_name, reason="challenger won after drift")
            log.warning("challenger model won after a drift: it becomes the next version")

    async def _dead_letter(self, message: Any, kind: str, error: str) -> None:
        letter = DeadLetter.from_raw(
            message.value, message.key, kind, error, message.topic, SERVICE, message.partition, message.offset
        )
        key = message.key or f"{message.topic}:{message.partition}:{message.offset}".encode()
        self._sends.append(await self.dlq_topic.send(key=key, value=letter.model_dump_json().encode()))
        self.metrics.record_corrections(1, kind)

    # -- model versions ------------------------------------------------------------------------

    async def _on_timer(self) -> None:
        if self._publishing:  # a publish waits for Redis
            return
        if self._unpublished or self._self_taught:
            await self._publish()
        elif self._pending_acks:  # only skipped or dead-lettered events: nothing to snapshot
            count, sends, self._sends = len(self._pending_acks), self._sends, []
            self._publishing = True
            await self._delivered(sends)
            self._publishing = False
            await self._ack_pending(count)

    async def _publish(self) -> None:
        """Snapshot the model with the offsets it holds, announce it, then ack its events."""
        self._adopt_rollback()
        self._check_version_change()  # before the state is taken: a new generation ships with this version
        self.engine.policy.recheck_version(self.engine.model)  # the thresholds this version validated ship with it
        self._stored.clear()  # the agents do not learn until the state is stored or frozen (_snapshot_stored)
        state = ModelState(
            model=self.engine.model,
            featurizer=self.engine.featurizer,
            version=0,  # allocated below
            policy_state=self.engine.learned_state(),  # the policy's, and the label model's (weak.functions)
            metrics={"corrections_applied": float(self.corrections_applied), "challenger": float(self._challenger_won)},
            source_offsets=dict(self.offsets),
        )
        kept_answers = getattr(self.engine.policy, "kept_answers", lambda: None)()  # taken with the state
        self._challenger_won = False
        held_acks, held_unpublished = len(self._pending_acks), len(self._unpublished)  # what this version holds
        self._self_taught = 0
        sends, self._sends = self._sends, []  # the labels of the corrections this version holds
        await self._confirm_deliveries()
        self._publishing = True
        await self._delivered(sends)
        while True:
            try:
                state.version = version = self.registry.allocate_version()
                announcement = self.registry.publish(state)
                break
            except redis.RedisError as exc:  # Redis restarting: retry; freeze the state first, the agent learns on
                self._last_error = f"redis: {exc}"
                log.warning("redis unavailable, model version not published yet, retrying: %s", exc)
                state = copy.deepcopy(state)
                self._stored.set()
                await asyncio.sleep(0.5)
        self._stored.set()
        self._save_kept_answers(version, kept_answers)
        self._publishing = False
        self._last_error = ""
        self.engine.model_version = version
        await self.versions_topic.send(
            key=self.settings.model.model_name.encode(), value=announcement.model_dump_json().encode()
        )
        self.metrics.set_model(version, state.created_at, self.settings.model.model_name, state.model.name)
        self.metrics.observe_update_latencies(self._unpublished[:held_unpublished])
        export_policy_metrics(self.metrics, self.engine.policy, self.settings.policy.target_precision)
        self._unpublished = self._unpublished[held_unpublished:]
        await self._ack_pending(held_acks)
        log.info("published model version %d (%d corrections learned)", version, self.corrections_applied)

    @staticmethod
    async def _delivered(sends: list[Awaitable[Any]]) -> None:
        """Wait until the broker has every message in ``sends``; restart in place if one was not delivered.

        faust's ``send`` only queues a message: without this wait a snapshot
        could hold a correction whose human label (or dead letter) was still
        in the producer's buffer, and a ``kill -9`` then would lose that label
        for good (the restarted learner skips what the snapshot holds). A
        message the producer gave up on is replayed the same way: restarting
        from the last snapshot re-learns, and re-sends, everything after it.
        """
        for sent in sends:
            try:
                await sent
            except Exception as exc:  # noqa: BLE001 - any failure means the message may not be on the broker
                restart_in_place(f"a human label or dead letter was not delivered ({exc!r})")

    async def _confirm_deliveries(self) -> None:
        """Wait until every second-review request sent so far is on the broker (before a snapshot holds its answer)."""
        deliveries, self._deliveries = self._deliveries, []
        for delivery in deliveries:
            await delivery

    def _adopt_rollback(self) -> None:
        """If ``labelstream models rollback`` (or ``import``, ``bootstrap``: metric ``adopt``) made another
        version live, learn on from that model.

        Checked before each publish (one Redis GET): corrections learned since
        the last version went into the model being rolled back, and go with it.
        """
        try:
            latest = self.registry.latest_version()
            state = None if latest is None or latest <= self.engine.model_version else self.registry.load(latest)
        except redis.RedisError:  # Redis restarting: the next publish checks again
            return
        if state is None or ("rollback_of" not in state.metrics and not state.metrics.get("adopt")):
            return
        self.engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
        if "rollback_of" in state.metrics:
            self.engine.policy.on_drift("rollback")  # another model: a new calibration generation (docs/contract.md)
            log.warning("rolled back to the model of version %d (live as version %d)", int(state.metrics["rollback_of"]), latest)
        else:  # labelstream models import / bootstrap: the file's calibration is evidence about this very model
            log.warning("adopted model version %d (imported or bootstrapped)", latest)

    async def _ack_pending(self, count: int | None = None) -> None:
        """Ack the first ``count`` pending events (all by default): only those a published version holds."""
        count = len(self._pending_acks) if count is None else count
        pending, self._pending_acks = self._pending_acks[:count], self._pending_acks[count:]
        for stream, event in pending:
            await stream.ack(event)

    async def _on_shutdown(self, *_args: Any, **_kwargs: Any) -> None:
        if self._unpublished or self._self_taught:
            await self._publish()

    def _corrections_waiting(self) -> bool:
        """Whether ``corrections`` holds messages past what this learner has handled."""
        if self._watermarks is None:
            self._watermarks = Consumer(consumer_config(self.settings.kafka, f"{self.settings.learner.app_id}-watchdog"))
        topic = self.settings.topics.corrections
        partitions = self._watermarks.list_topics(topic, timeout=10).topics[topic].partitions
        for partition in partitions:
            _low, high = self._watermarks.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > self.offsets.get(f"{topic}:{partition}", 0) + 1:  # + 1: a transaction marker may end it
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
        problem = self._last_error or self._kafka_error or ("" if self._started else "starting")
        return not problem, {
            "model_version": self.engine.model_version,
            "corrections_applied": self.corrections_applied,
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
            worker = _Worker(self.app, loglevel=loglevel, quiet=True)
            worker.execute_from_commandline()
        finally:
            stop_metrics_server(server)
            self.events.flush(5)
            _remove_empty_dirs(Path(self.app.conf.datadir))


class _Worker(faust.Worker):
    """A faust worker whose stop cannot hang (faust can wait forever when stopped mid-rebalance).

    Safe because nothing relies on a graceful stop: unpublished corrections are
    replayed from the last snapshot's offsets.
    """

    STOP_GRACE_SECONDS = 15.0

    def _on_sigterm(self) -> None:
        _exit_after(self.STOP_GRACE_SECONDS)
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        _exit_after(self.STOP_GRACE_SECONDS)
        super()._on_sigint()


def _record_of(stored: StoredRecord) -> Record | dict[str, Any]:
    """The stored record as the labeler routed it (its features alone when the record bytes were not kept)."""
    if stored.record_json is None:
        return stored.features
    try:
        return Record.model_validate_json(stored.record_json)
    except ValueError:
        return stored.features


def _auto_label(value: bytes | None) -> tuple[str, float] | None:
    """(label, score) of an automatic label on ``labels``; ``None`` for a human one or anything unreadable."""
    try:
        data = orjson.loads(value or b"")
        if data.get("method") in AUTO_METHODS:
            return str(data["label"]), float(data["confidence"])
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        pass
    return None


def _remove_empty_dirs(root: Path) -> None:
    """Remove ``root`` and the directories under it, bottom-up, as far as they hold no file."""
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        if path.is_dir():
            try:
                path.rmdir()
            except OSError:
                pass  # not empty: a file in it is kept


def _exit_after(seconds: float) -> None:
    def force() -> None:
        log.warning("learner did not stop within %.0f s: exiting", seconds)
        os._exit(0)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


def run_learner(settings: Settings, loglevel: str = "warning") -> None:
    """Entry point of ``labelstream run learner``."""
    Learner(settings).run(loglevel)
