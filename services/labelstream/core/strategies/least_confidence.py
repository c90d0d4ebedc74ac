"""Least confidence: ask with probability ``1 - max p`` (scaled to [0, 1]).

>>> from labelstream.core.policy.base import Prediction
>>> strategy = LeastConfidence(seed=1)
>>> strategy.query(Prediction.from_probabilities({"a": 0.6, "b": 0.4}))
Query(ask=True, inclusion_probability=0.8, priority=0.8, over_budget=False)
>>> strategy.query(Prediction.from_probabilities({"a": 0.99, "b": 0.01})).ask
False
"""

from __future__ import annotations

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy, least_confidence


class LeastConfidence(QueryStrategy):
    """The less sure the model, the likelier a human is asked."""

    name = "least_confidence"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        return least_confidence(prediction.probabilities)
