"""Model versions from the learner: restore the latest on start, publish one with the offsets it holds, then ack.

The exactly-once rule they keep is in :mod:`labelstream.learner`'s docstring.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable
from typing import Any

import redis

from labelstream.core.calibration_versions import evidence_margin
from labelstream.core.snapshot import ModelState
from labelstream.learner.context import LearnerContext
from labelstream.policy_metrics import export_policy_metrics
from labelstream.settings import Settings
from labelstream.store.models import ModelRegistry
from labelstream.store.recheck_answers import RecheckAnswers
from labelstream.watchdog import restart_in_place

log = logging.getLogger("labelstream.learner")


class VersionPublisher:
    """Publishes the learner's model versions: a signed snapshot in Redis, announced on ``model-versions``.

    A version holds the model, the policy's learned state and the offsets in
    :class:`~labelstream.learner.pending.Pending` when its state is taken; its
    events are acked only once it is stored and every message it depends on
    is on the broker.
    """

    def __init__(
        self,
        settings: Settings,
        context: LearnerContext,
        registry: ModelRegistry,
        recheck_answers: RecheckAnswers,
        versions_topic: Any,  # the faust topic of model-versions
    ) -> None:
        self.settings = settings
        self.engine = context.engine
        self.registry = registry
        self.recheck_answers = recheck_answers
        self.pending = context.pending
        self.retry = context.retry
        self.metrics = context.metrics
        self.events = context.events
        self.version_check = context.version_check
        self.versions_topic = versions_topic

    # -- start ---------------------------------------------------------------------------------

    def restore(self) -> None:
        """Resume from the latest snapshot: model, learned policy state, and learned offsets."""
        state = self.registry.load_latest()
        if state is None:
            log.info("no model version yet: starting a fresh %s model", self.settings.model.name)
            return
        self.engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
        self._restore_kept_answers(state.version)
        self.pending.offsets = dict(state.source_offsets)
        # Not model.n_learned: a challenger that won is a new model that learned only a recent window.
        self.pending.corrections_applied = int(state.metrics.get("corrections_applied", state.model.n_learned))
        self.metrics.set_model(state.version, state.created_at, self.settings.model.model_name, state.model.name)
        log.info("resumed from model version %d (%d corrections learned)", state.version, state.model.n_learned)

    def _restore_kept_answers(self, version: int) -> None:
        """The recheck's answers stored with ``version`` (see :mod:`labelstream.store.recheck_answers`): without
        them the next version's recheck would have no evidence and withdraw every threshold."""
        load = getattr(self.engine.policy, "load_kept_answers", None)
        if load is None or getattr(self.engine.policy, "recheck", None) is None:
            return
        stored = self.recheck_answers.load(version)
        adopted = load(stored)
        if stored is None:  # the learner died between the version and its answers, or a rollback went live
            log.warning("recheck: no answers stored with version %d: the recheck starts from the answers to come",
                        version)
        elif adopted < len(stored.get("answers", ())):
            log.warning("recheck: the %d answers stored with version %d are of generation %s, not %s: not kept",
                        len(stored.get("answers", ())), version, stored.get("generation"),
                        getattr(self.engine.policy, "generation", None))
        else:  # 0 when none of the version's answers was kept (e.g. records routed before a model predicted a class)
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

    # -- publishing ----------------------------------------------------------------------------

    async def on_timer(self) -> None:
        """Every ``learner.publish_every_seconds``: publish what was learned, or ack what needs no version."""
        pending = self.pending
        if pending.publishing:  # a publish waits for Redis
            return
        if pending.has_learned():
            await self.publish()
        elif pending.acks:  # only skipped or dead-lettered events: nothing to snapshot
            count, sends, pending.sends = len(pending.acks), pending.sends, []
            pending.publishing = True
            await self.delivered(sends)
            pending.publishing = False
            await self.ack(count)

    async def publish(self) -> None:
        """Snapshot the model with the offsets it holds, announce it, then ack its events."""
        pending = self.pending
        self._adopt_rollback()
        base = self.engine.model_version  # the version this one grows from
        metrics = {"corrections_applied": float(pending.corrections_applied), "challenger": float(pending.challenger_won)}
        state, kept_answers = self._take_state(metrics, dict(pending.offsets))
        pending.challenger_won = False
        held_acks, held_unpublished = len(pending.acks), len(pending.unpublished)  # what this version holds
        pending.self_taught = 0
        sends, pending.sends = pending.sends, []  # the labels of the corrections this version holds
        await self._confirm_deliveries()
        pending.publishing = True
        await self.delivered(sends)
        while True:
            try:
                state.version = version = self.registry.allocate_version()
                announcement = self.registry.publish_over(state, base)
                if announcement is not None:
                    break
                # A rollback (or import) went live while this state waited for the broker: publishing the state
                # would hide it. Its model is adopted (what this state learned goes with the old model) and published.
                pending.stored.clear()
                base = self._adopt_rollback() or base
                log.warning("model version %d not published: version %d went live meanwhile", version, base)
                state, kept_answers = self._take_state(state.metrics, state.source_offsets)
            except redis.RedisError as exc:  # Redis restarting: retry; freeze the state first, the agent learns on
                self.retry.failed(exc, "model version not published yet, retrying")
                state = copy.deepcopy(state)
                pending.stored.set()
                await self.retry.pause()
        pending.stored.set()
        self._save_kept_answers(version, kept_answers)
        pending.publishing = False
        self.retry.last_error = ""
        self.engine.model_version = version
        await self.versions_topic.send(
            key=self.settings.model.model_name.encode(), value=announcement.model_dump_json().encode()
        )
        self.metrics.set_model(version, state.created_at, self.settings.model.model_name, state.model.name)
        self.metrics.observe_update_latencies(pending.unpublished[:held_unpublished])
        export_policy_metrics(self.metrics, self.engine.policy, self.settings.policy.target_precision)
        pending.unpublished = pending.unpublished[held_unpublished:]
        await self.ack(held_acks)
        log.info("published model version %d (%d corrections learned)", version, pending.corrections_applied)

    def _take_state(self, metrics: dict[str, float], offsets: dict[str, int]) -> tuple[ModelState, dict[str, Any] | None]:
        """The engine's model and learned state as the next version (its number allocated when published), and the
        recheck's answers taken with it; from here the agents do not learn until it is stored or frozen."""
        self.check_version_change()  # before the state is taken: a new generation ships with this version
        self.engine.policy.recheck_version(self.engine.model)  # the thresholds this version validated ship with it
        self.pending.stored.clear()  # (Pending.snapshot_stored)
        state = ModelState(
            model=self.engine.model,
            featurizer=self.engine.featurizer,
            version=0,  # allocated by publish
            policy_state=self.engine.learned_state(),  # the policy's, and the label model's (weak.functions)
            metrics=metrics,
            source_offsets=offsets,
        )
        return state, getattr(self.engine.policy, "kept_answers", lambda: None)()

    @staticmethod
    async def delivered(sends: list[Awaitable[Any]]) -> None:
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
        deliveries, self.pending.deliveries = self.pending.deliveries, []
        for delivery in deliveries:
            await delivery

    async def ack(self, count: int | None = None) -> None:
        """Ack the first ``count`` pending events (all by default): only those a published version holds."""
        pending = self.pending
        count = len(pending.acks) if count is None else count
        done, pending.acks = pending.acks[:count], pending.acks[count:]
        for stream, event in done:
            await stream.ack(event)

    # -- what a version changes ----------------------------------------------------------------

    def _adopt_rollback(self) -> int | None:
        """If ``labelstream models rollback`` (or ``import``, ``bootstrap``: metric ``adopt``) made another
        version live, learn on from that model. The latest version it saw (``None``: none, or Redis away).

        Checked before each publish (one Redis GET), and again when a publish finds that another version
        went live meanwhile: corrections learned since the last version went into the model being rolled
        back, and go with it.
        """
        try:
            latest = self.registry.latest_version()
            state = None if latest is None or latest <= self.engine.model_version else self.registry.load(latest)
        except redis.RedisError:  # Redis restarting: the next publish checks again
            return None
        if state is None or ("rollback_of" not in state.metrics and not state.metrics.get("adopt")):
            return latest
        self.engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
        if "rollback_of" in state.metrics:
            self.engine.policy.on_drift("rollback")  # another model: a new calibration generation (docs/contract.md)
            log.warning("rolled back to the model of version %d (live as version %d)", int(state.metrics["rollback_of"]), latest)
        else:  # labelstream models import / bootstrap: the file's calibration is evidence about this very model
            self._restore_kept_answers(latest)  # a bootstrap's held-out answers recheck the next versions
            log.warning("adopted model version %d (imported or bootstrapped)", latest)
        return latest

    def check_version_change(self) -> None:
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
