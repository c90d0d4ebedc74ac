"""A fixed confidence threshold with a cold start: the simplest useful policy (the naive baseline).

>>> policy = ThresholdPolicy(confidence_threshold=0.9, cold_start_records=2, cold_start_corrections=0)
>>> sure = Prediction.from_probabilities({"a": 0.95, "b": 0.05})
>>> [policy.decide(sure, n_learned=10).reason for _ in range(3)]
['cold_start', 'cold_start', 'confident']
>>> policy.decide(Prediction.from_probabilities({"a": 0.6, "b": 0.4}), n_learned=10).outcome
'review'

With a review budget, uncertain records beyond it wait:

>>> budgeted = ThresholdPolicy(0.9, 0, 0, budget=ReviewBudget(share=0.5, reserve=0.0))
>>> unsure = Prediction.from_probabilities({"a": 0.6, "b": 0.4})
>>> [budgeted.decide(unsure, n_learned=10).outcome for _ in range(4)]
['review', 'review', 'deferred', 'review']
"""

from __future__ import annotations

from labelstream.core.budget import ReviewBudget
from labelstream.core.policy.base import Decision, Features, Policy, Prediction, review_within_budget


class ColdStart:
    """Sends records to review until ``records`` have passed and the model learned ``corrections`` answers.

    >>> cold = ColdStart(records=1, corrections=5)
    >>> cold.active(n_learned=0), cold.active(n_learned=5)
    (True, False)
    """

    def __init__(self, records: int = 100, corrections: int = 50) -> None:
        self.records = records
        self.corrections = corrections
        self._seen = 0

    def active(self, n_learned: int) -> bool:
        """Count one record; whether it falls in the cold start."""
        self._seen += 1
        return self._seen <= self.records or n_learned < self.corrections

    def active_prefix(self, n: int, n_learned: int) -> int:
        """Count ``n`` records; how many of them, from the first, fall in the cold start (``n_learned`` is the same
        for all: once one is past it, so are the rest). Equal to :meth:`active` called ``n`` times.

        >>> cold = ColdStart(records=3, corrections=0)
        >>> cold.active_prefix(5, n_learned=0), cold.active_prefix(2, n_learned=0)
        (3, 0)
        """
        cold = max(0, min(n, self.records - self._seen)) if n_learned >= self.corrections else n
        self._seen += n
        return cold


class ThresholdPolicy(Policy):
    """Auto-label when the top probability reaches ``confidence_threshold``, else review (within ``budget``)."""

    name = "threshold"

    def __init__(
        self,
        confidence_threshold: float = 0.9,
        cold_start_records: int = 100,
        cold_start_corrections: int = 50,
        budget: ReviewBudget | None = None,
    ) -> None:
        self.confidence_threshold = confidence_threshold
        self.cold_start_records = cold_start_records
        self.cold_start_corrections = cold_start_corrections
        self.budget = budget or ReviewBudget()
        self._cold_start = ColdStart(cold_start_records, cold_start_corrections)

    def decide(self, prediction: Prediction, n_learned: int, x: Features | None = None) -> Decision:
        self.budget.count_record()
        if self._cold_start.active(n_learned) or prediction.label is None:
            return review_within_budget(self.budget, "cold_start", reserved=True)
        if self.accepts(prediction):
            return Decision("label", "confident")
        return review_within_budget(self.budget, "uncertain", priority=1.0 - prediction.confidence)

    def accepts(self, prediction: Prediction) -> bool:
        return prediction.label is not None and prediction.confidence >= self.confidence_threshold
