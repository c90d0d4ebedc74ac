"""Randomized variable uncertainty: variable uncertainty with a randomized threshold.

Žliobaitė et al. (2014), "Active learning with drifting streaming data",
Algorithm 4: the threshold is multiplied by ``eta ~ Normal(1, delta)`` for
each record, so confident records are sometimes asked too — the strategy
keeps looking where the model is sure, which is how it notices a drift there.
The inclusion probability is exact: ``P(theta * eta > p) = 1 - Phi((p / theta - 1) / delta)``.

>>> from labelstream.core.policy.base import Prediction
>>> strategy = RandomizedVariableUncertainty(theta=0.9, delta=1.0, seed=3)
>>> query = strategy.query(Prediction.from_probabilities({"a": 0.99, "b": 0.01}))
>>> query.ask, round(query.inclusion_probability, 3)
(True, 0.46)
"""

from __future__ import annotations

import math

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features
from labelstream.core.strategies.variable_uncertainty import VariableUncertainty


class RandomizedVariableUncertainty(VariableUncertainty):
    """Variable uncertainty whose threshold is scaled by a normal draw around 1."""

    name = "randomized_variable_uncertainty"

    def __init__(
        self,
        theta: float = 1.0,
        step: float = 0.01,
        delta: float = 1.0,
        min_probability: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(theta, step, min_probability, seed)
        self.delta = delta

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        if self.theta <= 0:
            return 0.0
        z = (prediction.confidence / self.theta - 1.0) / self.delta
        return 0.5 * math.erfc(z / math.sqrt(2.0))
