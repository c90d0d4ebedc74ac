"""Why audit items are not answers of a ``model:audit`` pseudo-reviewer in Dawid-Skene (docs/review.md).

A pure simulation with the core's online Dawid-Skene: reviewers of known
accuracy answer overlap items (three each) and single audit items; the
pseudo-reviewer variant adds the model's auto-label to each audit item. Run
with ``-s`` to see the table docs/review.md quotes.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable

from labelstream.core.consensus import DawidSkeneConsensus

LABELS = ("cat", "dog", "bird")
ACCURACY = {"ana": 0.9, "bob": 0.75, "cyd": 0.8}


def accuracy_errors(seed: int, model_accuracy: Callable[[float], float] | None, n_overlap=600, n_audit=1500) -> list[float]:
    """Estimated minus true accuracy of each reviewer, after ``n_overlap`` overlap and ``n_audit`` audit items.

    ``model_accuracy(t)``: the model's accuracy on an audit item at time ``t`` in [0, 1) of the run (``None``:
    audit items are not given to Dawid-Skene, as the review service does).
    """
    rng = random.Random(seed)
    consensus = DawidSkeneConsensus(list(LABELS))
    events = ["overlap"] * n_overlap + ["audit"] * n_audit
    rng.shuffle(events)
    for index, event in enumerate(events):
        truth = rng.choice(LABELS)

        def say(accuracy: float, truth: str = truth) -> str:
            return truth if rng.random() < accuracy else rng.choice([label for label in LABELS if label != truth])

        if event == "overlap":
            answers = {reviewer: say(accuracy) for reviewer, accuracy in ACCURACY.items()}
        else:
            reviewer = rng.choice(sorted(ACCURACY))
            answers = {reviewer: say(ACCURACY[reviewer])}
            if model_accuracy is not None:
                answers["model:audit"] = say(model_accuracy(index / len(events)))
        if len(answers) > 1:
            consensus.learn_one(answers)
    estimate = consensus.reviewer_accuracy()
    return [estimate[reviewer] - accuracy for reviewer, accuracy in ACCURACY.items()]


def mean_error(model_accuracy: Callable[[float], float] | None, seeds=range(4)) -> float:
    """Estimated minus true accuracy, mean over the reviewers and the seeds (signed: a bias, not noise)."""
    return statistics.fmean(e for seed in seeds for e in accuracy_errors(seed, model_accuracy))


def test_the_model_as_a_pseudo_reviewer_biases_reviewer_accuracy_when_it_changes():
    """A steady model with independent errors would be harmless; the model the audits see changes (it learns,
    drifts, is replaced), and Dawid-Skene's one confusion matrix per annotator then blames the reviewers."""
    without = mean_error(None)
    steady = mean_error(lambda t: 0.85)
    drifting = mean_error(lambda t: 0.97 if t < 0.5 else 0.6)
    print(f"reviewer accuracy, estimated minus true (mean of 3 reviewers x 4 seeds): without the model {without:+.3f}; "
          f"with it, a steady model (0.85) {steady:+.3f}, a model drifting 0.97 -> 0.6 halfway {drifting:+.3f}")
    assert abs(without) < 0.01 and abs(steady) < 0.01
    assert drifting < -0.015
