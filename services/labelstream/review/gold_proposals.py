"""Gold proposals from the live model: a gold item shown with what the model says of it now, as a real item is.

With ``review.gold_proposals = "model"`` (the default) a gold item served to a
reviewer carries the **latest model version's** prediction for its record —
label, probabilities and version — as a real item carries the prediction it
was routed with. Two reasons:

- a gold item looks like the items around it: once the model runs, real items
  all come with a proposal, and a gold item without one (or with a proposal
  uploaded months ago) would stand out;
- the conditional gold bound (``policy.gold_bound = "conditional"``,
  docs/contract.md section 5) measures how often reviewers take a *wrong
  model proposal*: it is sound only if gold proposals are the model's own, as
  the real ones are. An uploaded proposal is the admin's guess of them.

Before the first model version, or if the model cannot score a gold item's
record (its features do not fit the model), the uploaded proposal is shown,
or none (``cold_start``). ``"uploaded"`` always shows the uploaded one.

The review service holds one engine (built from the settings, as the labeler's)
on the latest verified snapshot in Redis, looking for a new one at most every
:data:`CHECK_SECONDS` (a new version gets a fresh engine: one that cannot be
adopted leaves the last good one); a claim that serves a gold item scores one
record. Nothing here can fail a claim: whatever goes wrong, the uploaded
proposal is shown and a warning logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from labelstream.core.schemas import Record
from labelstream.errors import SnapshotRejected

if TYPE_CHECKING:
    from labelstream.core.engine import LabelingEngine
    from labelstream.settings import Settings
    from labelstream.store.models import ModelRegistry

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
"""How often, at most, the latest model version is looked up (one Redis GET)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the model says of a gold item's record: its label, probabilities, and the version that said it."""

    label: str
    probabilities: dict[str, float]
    model_version: int


class LiveProposals:
    """The latest model version's proposal for a record (``None``: no version yet, or it cannot score the record)."""

    def __init__(self, settings: Settings, registry: ModelRegistry, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self._engine: LabelingEngine | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()  # claims run in a thread pool; one engine scores at a time
        self._warned: int | None = None

    def propose(self, record: dict[str, Any]) -> Proposal | None:
        with self._lock:
            try:
                engine = self._current()
            except Exception as exc:  # noqa: BLE001 - a model the service cannot adopt must not fail a claim
                log.warning("gold proposals: cannot adopt the latest model version (%s: %s); the uploaded proposal "
                            "is shown", type(exc).__name__, exc)
                return None
            if engine is None:
                return None
            try:
                prediction = engine.score([Record.model_validate({"id": "gold", **record})])[0]
            except Exception as exc:  # noqa: BLE001 - a gold item the model cannot score shows its uploaded proposal
                if self._warned != engine.model_version:
                    self._warned = engine.model_version
                    log.warning("model version %d cannot score a gold item (%s: %s): its uploaded proposal is shown",
                                engine.model_version, type(exc).__name__, exc)
                return None
            if prediction.label is None:
                return None
            return Proposal(prediction.label, dict(prediction.probabilities), engine.model_version)

    def _current(self) -> LabelingEngine | None:
        """The engine on the latest version (looked up at most every CHECK_SECONDS), ``None`` before any."""
        now = self.clock()
        if now - self._checked < CHECK_SECONDS:
            return self._engine
        self._checked = now
        try:
            latest = self.registry.latest_version()
            if latest is None or (self._engine is not None and latest <= self._engine.model_version):
                return self._engine
            state = self.registry.load(latest)
        except (redis.RedisError, SnapshotRejected) as exc:
            log.warning("gold proposals stay on model version %s: %s",
                        None if self._engine is None else self._engine.model_version, exc)
            return self._engine
        if state is None:  # pruned meanwhile: the next look finds the newer one
            return self._engine
        from labelstream.core.build import build_engine

        engine = build_engine(self.settings)  # a fresh one: a failed adoption leaves the last good engine whole
        engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
        self._engine = engine
        return engine
