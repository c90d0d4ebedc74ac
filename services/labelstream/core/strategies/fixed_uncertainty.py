"""Fixed uncertainty: ask when the top probability is below a fixed threshold.

Žliobaitė et al. (2014), "Active learning with drifting streaming data",
Algorithm 2.

>>> from labelstream.core.policy.base import Prediction
>>> strategy = FixedUncertainty(threshold=0.8)
>>> [strategy.query(Prediction.from_probabilities({"a": p, "b": 1 - p})).ask for p in (0.7, 0.9)]
[True, False]
"""

from __future__ import annotations

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy


class FixedUncertainty(QueryStrategy):
    """Ask about every record whose top probability is below ``threshold``."""

    name = "fixed_uncertainty"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def __init__(self, threshold: float = 0.9, min_probability: float = 0.0, seed: int | None = None) -> None:
        super().__init__(min_probability, seed)
        self.threshold = threshold

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        return 1.0 if prediction.confidence < self.threshold else 0.0
