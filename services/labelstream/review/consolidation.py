"""Overlap items -> one consensus label each, and the agreement between reviewers.

An overlap item is answered by ``review.overlap_k`` reviewers, one after the
other; each answer is published as it comes (``kind="overlap"``, not learned
alone). Once it has them all and none can still be undone, the leader
consolidates it:

1. the answers disagree, adjudication is on and none has happened yet: the
   item goes to one more reviewer (it will be consolidated again with the
   extra answer);
2. otherwise the consensus (``review.consolidation``: majority, or online
   Dawid-Skene) gives the label and its probability; the consensus learns
   the item; the agreement tracker adds it; and one script publishes the
   consensus correction (``kind="consensus"``, learned; ``labels`` gets it
   with ``method=consensus``), marks the item done and stores the consensus
   and agreement state, so a restart resumes both where the last published
   consensus left them.

A second review (``label_errors``: an answer a confident model contradicted,
reopened with one more reviewer) is consolidated the same way, but teaches
neither the consensus nor the agreement tracker: it was chosen *because* its
first answer looked wrong, so it would bias the estimate of that reviewer.

The algorithms are the core's (:mod:`labelstream.core.consensus`,
:mod:`labelstream.core.agreement`); this module runs them on the queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson

from labelstream.core.agreement import AgreementTracker
from labelstream.core.consensus import Consensus, ConsensusMethod, make_consensus, needs_adjudication
from labelstream.review.auth import CONSENSUS_REVIEWER
from labelstream.review.metrics import ReviewMetrics
from labelstream.review.queue import ReviewQueue

log = logging.getLogger("labelstream.review.consolidation")


class Consolidator:
    """Consolidates the overlap items that are ready (the leader calls :meth:`run_once` every second)."""

    def __init__(
        self,
        queue: ReviewQueue,
        metrics: ReviewMetrics,
        method: ConsensusMethod = "majority",
        adjudication: bool = True,
        classes: Sequence[str] = (),
    ) -> None:
        self.queue = queue
        self.metrics = metrics
        self.method = method
        self.adjudication = adjudication
        self.classes = list(classes)
        self.state_key = f"{queue.prefix}:review:consensus_state"
        self.consensus: Consensus = make_consensus(method, self.classes)
        self.tracker = AgreementTracker()
        self.load()

    def load(self) -> None:
        """The consensus and agreement state of the last published consensus."""
        raw = self.queue.client.get(self.state_key)
        self.consensus = make_consensus(self.method, self.classes)
        self.tracker = AgreementTracker()
        if raw:
            state = orjson.loads(raw)
            consensus_state = state.get("consensus", {})
            if consensus_state.get("method", self.method) == self.method:
                self.consensus.load_state(consensus_state)
            else:  # review.consolidation changed: the other method's estimates do not apply
                log.warning("consensus state of %s ignored: consolidating with %s from scratch",
                            consensus_state.get("method"), self.method)
            self.tracker.load_state(state.get("agreement", {}))
        self._export()

    def run_once(self, now: float | None = None) -> int:
        """Consolidate or adjudicate every ready item; how many were consolidated."""
        now = time.time() if now is None else now
        done = 0
        for record_id in self.queue.ready_to_consolidate(now):
            answers = dict(self.queue.answers(record_id))  # in the order given: majority ties go to the first
            if not answers:
                continue
            adjudicated = self.queue.item_field(record_id, "adjudicated") == "1"
            if self.adjudication and not adjudicated and needs_adjudication(answers):
                if self.queue.adjudicate(record_id):
                    log.info("overlap item %s: answers disagree, one more reviewer will answer", record_id)
                continue
            done += self._consolidate(record_id, answers, adjudicated, now)
        return done

    def _consolidate(self, record_id: str, answers: dict[str, str], adjudicated: bool, now: float) -> int:
        probabilities = self.consensus.predict_proba_one(answers)
        label = self.consensus.predict_one(answers)
        if label is None:
            return 0
        if self.queue.item_field(record_id, "second_review") is None:  # a second review is no random sample
            self.consensus.learn_one(answers)
            self.tracker.add_item(answers, label)
        correction = {
            "kind": "consensus",
            "id": record_id,
            "label": label,
            "reviewer": CONSENSUS_REVIEWER,
            "answers": answers,
            "consolidation": self.method,
            "confidence": min(1.0, max(0.0, float(probabilities.get(label, 0.0)))),
            "adjudicated": adjudicated,
            "timestamp": now,
        }
        state = orjson.dumps({"consensus": self.consensus.state(), "agreement": self.tracker.state()})
        try:
            answer_id = self.queue.finalize(record_id, correction, len(answers), self.state_key, state)
        except Exception:
            self.load()  # the learning above did not happen as far as Redis knows: forget it too
            raise
        if answer_id is None:  # undone or changed meanwhile
            self.load()
            return 0
        unanimous = len(set(answers.values())) == 1
        self.metrics.consolidated.labels("agreed" if unanimous else "adjudicated").inc()
        self._export()
        return 1

    def _export(self) -> None:
        accuracy = self.consensus.reviewer_accuracy() if hasattr(self.consensus, "reviewer_accuracy") else None
        self.metrics.set_agreement(self.tracker.kappa(), self.tracker.alpha(), self.tracker.consensus_agreement(), accuracy)

    def summary(self) -> dict[str, Any]:
        """Agreement figures for ``GET /api/v1/stats``."""
        accuracy = self.consensus.reviewer_accuracy() if hasattr(self.consensus, "reviewer_accuracy") else None
        return {
            "consolidation": self.method,
            "kappa": _finite(self.tracker.kappa()),
            "alpha": _finite(self.tracker.alpha()),
            "consensus_agreement": self.tracker.consensus_agreement(),
            "accuracy_estimate": accuracy,
        }


def _finite(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None
