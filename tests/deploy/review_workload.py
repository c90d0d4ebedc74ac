"""A small in-process workload that updates the real review metrics the way the review service does.

Three simulated reviewers (accuracies 0.95, 0.85, 0.7) answer items of a
two-label stream; a share of the items are overlap items answered by two of
them and consolidated by the real consensus core (online Dawid-Skene) and
agreement tracker. Each event goes through one :class:`ReviewMetrics` helper
call, as in the service: answers with their claim-to-answer time, skips,
undos, expired leases, the queue's size, agreement after each consolidation.
"""

from __future__ import annotations

import random
import statistics
import time

from labelstream.core.agreement import AgreementTracker
from labelstream.core.consensus import DawidSkeneConsensus, needs_adjudication
from labelstream.review.metrics import ReviewMetrics

ACCURACY = {"ana": 0.95, "ben": 0.85, "cai": 0.7}
LABELS = ("cat", "dog")


def run_review_workload(metrics: ReviewMetrics, seconds: float, items: int = 300, seed: int = 3) -> None:
    """Answer ``items`` items over about ``seconds``; every third one is an overlap item."""
    rng = random.Random(seed)
    consensus = DawidSkeneConsensus()
    tracker = AgreementTracker()
    times: dict[str, list[float]] = {name: [] for name in ACCURACY}
    waiting = items
    for i in range(items):
        truth = rng.choice(LABELS)
        reviewers = rng.sample(sorted(ACCURACY), 2 if i % 3 == 0 else 1)
        answers = {}
        for name in reviewers:
            wrong = next(label for label in LABELS if label != truth)
            answers[name] = truth if rng.random() < ACCURACY[name] else wrong
            took = rng.expovariate(1 / 6.0)
            times[name].append(took)
            metrics.record_answer(name, took, statistics.median(times[name][-100:]))
        if len(answers) > 1:
            agreed = consensus.predict_one(answers)
            consensus.learn_one(answers)
            tracker.add_item(answers, agreed)
            # a disagreement goes to adjudication; one in four of those times out (consolidated from the answers it has)
            result = "agreed" if not needs_adjudication(answers) else "timed_out" if rng.random() < 0.25 else "adjudicated"
            metrics.consolidated.labels(result).inc()
            metrics.set_agreement(tracker.kappa(), tracker.alpha(), tracker.consensus_agreement(), consensus.reviewer_accuracy())
        if i % 10 == 0:
            metrics.record_skip(rng.choice(sorted(ACCURACY)))
        if i % 25 == 0:
            metrics.record_undo(rng.choice(sorted(ACCURACY)))
            metrics.leases_expired.inc()
        waiting -= 1
        metrics.set_queue(waiting=waiting, leased=len(reviewers), outbox=0)
        time.sleep(seconds / items)
