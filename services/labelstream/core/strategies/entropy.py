"""Entropy: ask with probability equal to the prediction's normalized entropy.

>>> from labelstream.core.policy.base import Prediction
>>> strategy = Entropy(seed=1)
>>> query = strategy.query(Prediction.from_probabilities({"a": 0.9, "b": 0.1}))
>>> query.ask, round(query.inclusion_probability, 3)
(True, 0.469)
"""

from __future__ import annotations

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy, entropy


class Entropy(QueryStrategy):
    """The more spread the predicted distribution, the likelier a human is asked."""

    name = "entropy"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        return entropy(prediction.probabilities)

    def informativeness(self, prediction: Prediction, x: Features | None = None) -> float:
        return entropy(prediction.probabilities)
