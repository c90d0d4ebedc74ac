"""Self-training: the model also learns its surest auto-labels, with a weight below 1, while audits hold.

Semi-supervised self-training (pseudo-labeling) on a stream: an auto-label
whose score reaches ``min_confidence`` (stricter than the calibrated
threshold that let it out) is learned by the model with weight ``weight``
— the human answers keep weight 1. The risk is confirmation: a model that
teaches itself its own mistakes. So the contract's random audits guard it: as
soon as the audit interval of the predicted class (or of all auto-labels)
lies wholly below the precision target — the audits have shown the
auto-labels are wrong too often — self-training stops for that class (and
resumes if later audits lift the interval). Off by default: the benchmark
(BENCHMARKS.md, "Labeling methods") shows what it pays.

The answers the calibration and the audits learn from are human answers
only; self-training changes the model, never the evidence, so the contract's
guarantee does not rest on it.

In the services the learner does it (docs/self-training.md): the labeler
keeps the features of the auto-labels that reach ``min_confidence`` in Redis,
the learner reads ``labels`` back and learns them; :meth:`SelfTraining.first_time`
keeps a label it reads twice (a batch redone after an aborted transaction)
from being learned twice.

>>> from labelstream.core.audit import AuditEstimator
>>> from labelstream.core.policy import Prediction
>>> trainer = SelfTraining(min_confidence=0.95, weight=0.3, target=0.9)
>>> sure = Prediction.from_probabilities({"spam": 0.98, "ham": 0.02})
>>> trainer.accepts(sure, AuditEstimator()), trainer.accepts(Prediction.from_probabilities({"spam": 0.9, "ham": 0.1}))
(True, False)
>>> audits = AuditEstimator()
>>> for i in range(60):
...     audits.learn_one("spam", correct=i % 2 == 0, inclusion_probability=1.0)  # half of them wrong
>>> trainer.accepts(sure, audits), trainer.paused, trainer.open_for("spam", audits), trainer.open_for("spam", None)
(False, 1, False, True)
>>> trainer.first_time("r1"), trainer.first_time("r1")
(True, False)
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelstream.core.audit import AuditEstimator
    from labelstream.core.policy import Prediction


class SelfTraining:
    """Which auto-labels the model learns (and with which weight).

    Parameters
    ----------
    min_confidence
        The model's probability of the auto-label must reach this.
    weight
        The weight of a self-taught example (a human answer weighs 1).
    target
        The precision target: audits whose interval lies below it stop self-training.
    window
        Record ids :meth:`first_time` remembers.
    """

    def __init__(self, min_confidence: float = 0.99, weight: float = 0.5, target: float = 0.95,
                 window: int = 100_000) -> None:
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {weight}")
        self.min_confidence = min_confidence
        self.weight = weight
        self.target = target
        self.window = window
        self.learned = 0
        """Auto-labels the model learned."""
        self.paused = 0
        """Auto-labels sure enough but refused because audits showed precision below the target."""
        self.unjoinable = 0
        """Sure auto-labels the learner could not learn: their features were not in Redis (expired, or
        labeled before self-training was on)."""
        self._seen: set[str] = set()
        self._order: deque[str] = deque()

    def first_time(self, record_id: str) -> bool:
        """Whether no auto-label of this record was seen among the last :attr:`window` (and remember it)."""
        if record_id in self._seen:
            return False
        self._seen.add(record_id)
        self._order.append(record_id)
        if len(self._order) > self.window:
            self._seen.discard(self._order.popleft())
        return True

    def accepts(self, prediction: Prediction, audits: AuditEstimator | None = None) -> bool:
        """Whether the model learns this auto-label (counts refusals by the audits in :attr:`paused`)."""
        if prediction.label is None or prediction.confidence < self.min_confidence:
            return False
        if not self.open_for(prediction.label, audits):
            self.paused += 1
            return False
        return True

    def open_for(self, label: str | None, audits: AuditEstimator | None) -> bool:
        """The guard's state: whether sure auto-labels of class ``label`` are learned now (``None``: of any
        class the audits allow), i.e. neither that class's audit interval nor the overall one lies wholly
        below the target (no audits: always)."""
        if audits is None:
            return True
        return not ((label is not None and self._below(audits, label)) or self._below(audits, None))

    def _below(self, audits: AuditEstimator, label: str | None) -> bool:
        estimate = audits.estimate(label)
        return estimate.effective_size > 0 and estimate.upper < self.target
