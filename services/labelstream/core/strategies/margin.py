"""Margin: ask with probability ``1 - (p1 - p2)``, the closeness of the two best labels.

>>> from labelstream.core.policy.base import Prediction
>>> strategy = Margin(seed=1)
>>> query = strategy.query(Prediction.from_probabilities({"a": 0.5, "b": 0.4, "c": 0.1}))
>>> query.ask, round(query.inclusion_probability, 2)
(True, 0.9)
"""

from __future__ import annotations

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy, margin


class Margin(QueryStrategy):
    """Records whose two most probable labels are close are worth asking about."""

    name = "margin"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        return margin(prediction.probabilities)

    def informativeness(self, prediction: Prediction, x: Features | None = None) -> float:
        return margin(prediction.probabilities)
