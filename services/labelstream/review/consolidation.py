"""Overlap items -> one consensus label each, and the agreement between reviewers.

An overlap item is answered by ``review.overlap_k`` reviewers, one after the
other; each answer is published as it comes (``kind="overlap"``, not learned
alone). Once it has them all and none can still be undone, the leader
consolidates it:

1. the answers disagree, adjudication is on and none has happened yet: the
   item goes to one more reviewer (it will be consolidated again with the
   extra answer). If no reviewer who has not answered it takes and answers it
   within ``review.adjudication_timeout_seconds`` (only ``overlap_k``
   reviewers exist, or the others are away), it is consolidated from the
   answers it has, flagged ``adjudication_timed_out`` (with majority, the
   first answer wins a tie; Dawid-Skene sides with the reviewer it trusts
   more). An item leased to an adjudicator at the deadline is left to them.
2. otherwise the consensus (``review.consolidation``: majority, or online
   Dawid-Skene) gives the label and its probability; the consensus learns
   the item (all its answers, the adjudicator's too); the agreement tracker
   adds the **first** ``overlap_k`` answers only; and one script publishes the
   consensus correction (``kind="consensus"``, learned; ``labels`` gets it
   with ``method=consensus``), marks the item done and stores the consensus
   and agreement state, so a restart resumes both where the last published
   consensus left them.

Why the agreement sees only the first ``overlap_k`` answers: the adjudicator's
answer exists only where the first ones disagreed, so counting it would
measure agreement on a sample chosen for disagreement (20,000 simulated items,
two reviewers, adjudication on: kappa 0.336 and alpha 0.528 where the truth is
0.478 and 0.479). The first ``overlap_k`` answers of every overlap item are an
unselected sample. Dawid-Skene may keep them all: it models each answer given
the true label, and which items get a third answer depends only on answers it
also sees (ignorable missingness), not on the truth.

Audit items are not given to Dawid-Skene as answers of a ``model:audit``
pseudo-reviewer (see docs/review.md, "Audit items and Dawid-Skene"): the
model's auto-label is not the truth, is correlated with the items' difficulty
(audits sample confident items), and is a different annotator after every
model version or drift, which Dawid-Skene's fixed per-reviewer confusion
cannot follow; it would move the reviewers' accuracy estimates towards their
agreement with the model.

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
from collections.abc import Mapping, Sequence
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
        adjudication_timeout_seconds: float = 900.0,
    ) -> None:
        self.queue = queue
        self.metrics = metrics
        self.method = method
        self.adjudication = adjudication
        self.adjudication_timeout_seconds = adjudication_timeout_seconds
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
        if self.adjudication and self.adjudication_timeout_seconds > 0:
            timed_out = self.queue.time_out_adjudications(now)
            if timed_out:
                log.warning("%d overlap items waited %.0f s for an adjudicator in vain: consolidated from the answers "
                            "they have (flagged adjudication_timed_out)", timed_out, self.adjudication_timeout_seconds)
        done = 0
        for record_id in self.queue.ready_to_consolidate(now):
            # rev before the answers: a vote corrected after this read makes the publication stale
            rev, adjudication, timed_out = self.queue.item_fields(record_id, "rev", "adjudicated", "adjudication_timed_out")
            answers = dict(self.queue.answers(record_id))  # in the order given: majority ties go to the first
            if not answers:
                continue
            if self.adjudication and adjudication != "1" and needs_adjudication(answers):
                deadline = now + self.adjudication_timeout_seconds if self.adjudication_timeout_seconds > 0 else 0.0
                if self.queue.adjudicate(record_id, deadline):
                    log.info("overlap item %s: answers disagree, one more reviewer will answer", record_id)
                continue
            done += self._consolidate(record_id, answers, adjudication == "1", timed_out == "1", now, rev)
        if done:
            self._export()  # once a pass: kappa and alpha go over the whole window
        self.reconsolidate_corrected(now)
        return done

    def reconsolidate_corrected(self, now: float | None = None) -> int:
        """Recompute the consensus of consolidated items whose votes were corrected since; how many changed label.

        The recomputation uses the consensus as learned now but does not learn the item again (it was
        learned once, with the votes it had then; Dawid-Skene cannot take an item back), nor does the
        agreement tracker count it twice. A changed label is published as a retraction of the old
        consensus and the new consensus (the learner learns it after the old one, and ``labels`` gets
        it as the latest); an unchanged one publishes nothing.
        """
        now = time.time() if now is None else now
        changed = 0
        for record_id in self.queue.ready_to_reconsolidate():
            fields = self.queue.item_fields(record_id, "rev", "consensus_label", "adjudicated", "adjudication_timed_out",
                                            "consensus_id")
            rev, old_label, adjudicated, timed_out, old_id = fields
            answers = dict(self.queue.answers(record_id))
            label = self.consensus.predict_one(answers) if answers else None
            correction = None
            if label is not None and label != old_label:
                correction = self._correction(record_id, answers, label, adjudicated == "1" and timed_out != "1",
                                              timed_out == "1", now)
                correction["supersedes"] = old_id  # the learner learns it, not as evidence again (counted_before)
            if self.queue.reconsolidate(record_id, rev, correction, now) == "published":
                changed += 1
                self.metrics.consolidated.labels("recomputed").inc()
                log.info("overlap item %s: a corrected vote changed its consensus %s -> %s", record_id, old_label, label)
        return changed

    def _correction(
        self, record_id: str, answers: dict[str, str], label: str, adjudicated: bool, timed_out: bool, now: float
    ) -> dict[str, Any]:
        """The consensus correction of an item (without its answer id, which the queue gives)."""
        probabilities = self.consensus.predict_proba_one(answers)
        return {
            "kind": "consensus",
            "id": record_id,
            "label": label,
            "reviewer": CONSENSUS_REVIEWER,
            "answers": answers,
            "consolidation": self.method,
            "confidence": min(1.0, max(0.0, float(probabilities.get(label, 0.0)))),
            "adjudicated": adjudicated,
            "adjudication_timed_out": timed_out,
            "timestamp": now,
        }

    def _consolidate(
        self, record_id: str, answers: dict[str, str], adjudicated: bool, timed_out: bool, now: float,
        rev: str | None = None,
    ) -> int:
        label = self.consensus.predict_one(answers)
        if label is None:
            return 0
        adjudicated = adjudicated and not timed_out  # one more reviewer answered
        correction = self._correction(record_id, answers, label, adjudicated, timed_out, now)  # before learning it
        if self.queue.item_field(record_id, "second_review") is None:  # a second review is no random sample
            self.consensus.learn_one(answers)
            self.tracker.add_item(first_answers(answers, adjudicated), label)
        state = orjson.dumps({"consensus": self.consensus.state(), "agreement": self.tracker.state()})
        try:
            answer_id = self.queue.finalize(record_id, correction, len(answers), self.state_key, state, rev)
        except Exception:
            self.load()  # the learning above did not happen as far as Redis knows: forget it too
            raise
        if answer_id is None:  # undone, or a vote corrected, meanwhile
            self.load()
            return 0
        unanimous = len(set(answers.values())) == 1
        self.metrics.consolidated.labels("agreed" if unanimous else "timed_out" if timed_out else "adjudicated").inc()
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


def first_answers(answers: Mapping[str, str], adjudicated: bool) -> dict[str, str]:
    """The answers agreement is measured on: all but the adjudicator's (the last one, given only on disagreement).

    >>> first_answers({"ana": "cat", "bob": "dog", "cyd": "dog"}, adjudicated=True)
    {'ana': 'cat', 'bob': 'dog'}
    >>> first_answers({"ana": "cat", "bob": "cat"}, adjudicated=False)
    {'ana': 'cat', 'bob': 'cat'}
    """
    kept = list(answers.items())
    return dict(kept[:-1] if adjudicated else kept)


def _finite(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None
