"""A fixed confidence threshold with a cold start: the simplest useful policy.

>>> policy = ThresholdPolicy(confidence_threshold=0.9, cold_start_records=2, cold_start_corrections=0)
>>> sure = Prediction.from_probabilities({"a": 0.95, "b": 0.05})
>>> [policy.decide(sure, n_learned=10).reason for _ in range(3)]
['cold_start', 'cold_start', 'confident']
>>> policy.decide(Prediction.from_probabilities({"a": 0.6, "b": 0.4}), n_learned=10).outcome
'review'
"""

from __future__ import annotations

from labelstream.core.policy.base import Decision, Policy, Prediction


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


class ThresholdPolicy(Policy):
    """Auto-label when the top probability reaches ``confidence_threshold``, else review."""

    name = "threshold"

    def __init__(
        self, confidence_threshold: float = 0.9, cold_start_records: int = 100, cold_start_corrections: int = 50
    ) -> None:
        self.confidence_threshold = confidence_threshold
        self.cold_start_records = cold_start_records
        self.cold_start_corrections = cold_start_corrections
        self._cold_start = ColdStart(cold_start_records, cold_start_corrections)

    def decide(self, prediction: Prediction, n_learned: int) -> Decision:
        if self._cold_start.active(n_learned) or prediction.label is None:
            return Decision("review", "cold_start", priority=1.0)
        if prediction.confidence >= self.confidence_threshold:
            return Decision("label", "confident")
        return Decision("review", "uncertain", priority=1.0 - prediction.confidence)
