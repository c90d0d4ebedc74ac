"""Audits: an unbiased running estimate of auto-label precision, per predicted class and overall.

A share of the records that would be auto-labeled is drawn uniformly at
random and sent to review with reason ``audit``. Weighting each answer by
``1 / inclusion_probability`` keeps the estimate unbiased when the audit
share changes (it rises after a drift); the interval is Clopper–Pearson on
the effective sample size (:mod:`labelstream.core.bounds`).

>>> audits = AuditEstimator(confidence_level=0.95)
>>> for i in range(200):
...     audits.learn_one("spam" if i % 2 else "ham", correct=i % 20 != 0, inclusion_probability=0.02)
>>> overall = audits.estimate()
>>> overall.estimate, round(overall.lower, 3), round(overall.upper, 3)
(0.95, 0.91, 0.976)
>>> audits.estimate("spam").estimate, audits.estimate("ham").estimate
(1.0, 0.9)
"""

from __future__ import annotations

from typing import Any

from labelstream.core.bounds import Proportion, WeightedSums


class AuditEstimator:
    """Precision of auto-labels estimated from audited records."""

    def __init__(self, confidence_level: float = 0.95) -> None:
        self.confidence_level = confidence_level
        self._sums: dict[str, WeightedSums] = {}

    def learn_one(self, label: str, correct: bool, inclusion_probability: float) -> None:
        """One audit answer: the auto-label it would have had was ``label``; was it right?"""
        self._sums.setdefault(label, WeightedSums()).add(bool(correct), 1.0 / inclusion_probability)

    def estimate(self, label: str | None = None) -> Proportion:
        """Estimate and interval for predicted class ``label``, or over all classes."""
        if label is not None:
            return self._sums.get(label, WeightedSums()).proportion(self.confidence_level)
        total = WeightedSums()
        for sums in self._sums.values():
            total = total.merge(sums)
        return total.proportion(self.confidence_level)

    def estimates(self) -> dict[str, Proportion]:
        """Predicted class -> its estimate."""
        return {label: self.estimate(label) for label in sorted(self._sums)}

    def state(self) -> dict[str, Any]:
        return {label: [s.weight, s.weighted_successes, s.squared_weight] for label, s in self._sums.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        self._sums = {label: WeightedSums(*values) for label, values in state.items()}
