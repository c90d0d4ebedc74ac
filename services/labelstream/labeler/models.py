"""Model versions in the labeler: adopt each new one between batches, then relabel what waited for it.

The :class:`ModelWatcher` loads announced versions on its own thread; the
labeler swaps them in between two batches (never inside a transaction) and
re-scores deferred records under the new model, auto-labeling those the
policy now accepts, in a transaction of their own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import redis

from labelstream.core.encode import encode_label
from labelstream.core.engine import LabelingEngine
from labelstream.core.policy import Prediction
from labelstream.core.router import Outcome
from labelstream.core.schemas import Record
from labelstream.core.snapshot import ModelState
from labelstream.errors import SnapshotRejected
from labelstream.kafka.events import EventPublisher
from labelstream.metrics import Metrics
from labelstream.model_watcher import ModelWatcher
from labelstream.policy_metrics import export_policy_metrics
from labelstream.settings import Settings
from labelstream.store.models import ModelRegistry
from labelstream.store.records import RecordStore

log = logging.getLogger("labelstream.labeler")

Publish = Callable[[Sequence[Outcome]], bool]
"""Publishes outcomes in a transaction of their own; ``False`` when it did not commit."""


class ModelKeeper:
    """Keeps the engine on the newest verified model version and relabels deferred records after each swap."""

    def __init__(
        self,
        settings: Settings,
        engine: LabelingEngine,
        registry: ModelRegistry,
        store: RecordStore,
        metrics: Metrics,
        events: EventPublisher,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.events = events
        self.publish: Publish = lambda outcomes: False  # the loop's, once it runs
        self.watcher = ModelWatcher(settings, registry, on_rejected=self.on_rejected)

    def load_latest(self, turning: Callable[[], bool]) -> None:
        """Adopt the latest verified version in Redis, waiting for Redis while ``turning()`` (it says whether to go on)."""
        backoff = 0.25
        while turning():
            try:
                state = self.registry.load_latest()
            except SnapshotRejected as exc:
                self.on_rejected(self.registry.latest_version() or 0, str(exc))
                state = None
            except redis.RedisError as exc:
                log.warning("waiting for Redis to load the latest model: %s", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.adopt(state)
            self.watcher.start(self.engine.model_version)
            return

    def adopt_pending(self) -> None:
        """Between two batches: swap in the version the watcher loaded, if any."""
        state = self.watcher.take_pending()
        if state is not None:
            self.adopt(state)

    def adopt(self, state: ModelState | None) -> None:
        if state is None or state.version <= self.engine.model_version:
            return
        if state.metrics.get("challenger") and self.engine.policy.held():
            # The learner swapped in a challenger, which closes the generation: the deferred records of the version
            # in force get one last relabel with it, thresholds no longer waiting (docs/contract.md, The recheck).
            try:
                self.relabel_deferred(closing=True)
            except redis.RedisError as exc:
                log.warning("relabel before the challenger skipped: %s", exc)
        self.engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
        if state.metrics.get("challenger") and self.engine.monitor is not None:
            self.engine.monitor.restart_prediction_detectors()  # a new model: its confidence is a new baseline
        self.metrics.set_model(
            state.version, state.created_at, self.settings.model.model_name, state.model.name, self.engine.policy.name
        )
        export_policy_metrics(self.metrics, self.engine.policy, self.settings.policy.target_precision)
        log.info("model version %d live (%d corrections learned)", state.version, state.model.n_learned)
        try:
            self.relabel_deferred()
        except redis.RedisError as exc:  # Redis restarting: the records stay deferred; the next version relabels
            log.warning("relabel skipped: %s", exc)

    def relabel_deferred(self, closing: bool = False) -> None:
        """Re-score waiting deferred records under the new model; auto-label those the policy now accepts.

        Deferred ids are claimed atomically from Redis (several labelers never take the same one) and
        their labels are committed in one transaction; ids still waiting go to the back of the queue.
        At most once: a crash between claim and commit leaves those records with their deferred outcome.
        ``closing``: the last relabel of a generation that a challenger swap is about to close
        (:meth:`~labelstream.core.engine.LabelingEngine.relabel`).
        """
        claimed = self.store.claim_deferred(self.settings.labeler.relabel_batch)
        if not claimed:
            return
        stored = [s for s in self.store.get_many(claimed) if s is not None and s.record_json is not None]
        records = [Record.model_validate_json(s.record_json) for s in stored]
        proposed = [Prediction.from_probabilities(s.probabilities).label for s in stored]
        result = self.engine.relabel(records, [s.reason for s in stored], proposed, [s.context for s in stored], closing)
        now = time.time()
        labels = [
            Outcome(self.settings.topics.labels, record.id.encode(), self._label(record, prediction, now), "label", "relabeled")
            for record, prediction in result.labeled
        ]
        if not self.publish(labels):
            log.warning("relabel not committed, %d records stay deferred", len(claimed))
            self.store.requeue_deferred(claimed, time.time())
            return
        self.store.requeue_deferred((r.id for r in result.waiting), time.time())
        if result.labeled:
            self.metrics.record_outcomes({("label", "relabeled"): len(result.labeled)})
            log.info("relabeled %d deferred records (%d still waiting)", len(result.labeled), len(result.waiting))

    def _label(self, record: Record, prediction: Prediction, now: float) -> bytes:
        return encode_label(
            record.id, prediction.label or "", prediction.confidence, self.engine.model_version,
            self.engine.policy.name, now, relabeled=True,
        )

    def on_rejected(self, version: int, error: str) -> None:
        log.error("model version %s rejected: %s", version, error)
        self.events.publish("model_rejected", model_name=self.settings.model.model_name, version=version, error=error)

    def stop(self) -> None:
        self.watcher.stop()
