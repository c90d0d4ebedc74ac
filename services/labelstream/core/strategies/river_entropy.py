"""River's ``EntropySampler`` as a query strategy (a baseline).

Asks with river's probability: the normalized entropy raised to
``discount_factor`` (``river.active.EntropySampler``).

>>> from labelstream.core.policy.base import Prediction
>>> strategy = RiverEntropySampler(discount_factor=3, seed=1)
>>> round(strategy.query(Prediction.from_probabilities({"a": 0.6, "b": 0.4})).inclusion_probability, 3)
0.915
"""

from __future__ import annotations

from river.active import EntropySampler

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy, entropy


class RiverEntropySampler(QueryStrategy):
    """The probability of ``river.active.EntropySampler``, through our budget gate."""

    name = "river_entropy"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def __init__(self, discount_factor: float = 3.0, min_probability: float = 0.0, seed: int | None = None) -> None:
        super().__init__(min_probability, seed)
        self.discount_factor = discount_factor
        self._sampler = EntropySampler(classifier=None, discount_factor=discount_factor, seed=seed)

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        probabilities = prediction.probabilities
        if not probabilities:
            return 1.0
        if sum(1 for p in probabilities.values() if p > 0) < 2:
            # One class holds all the mass: no uncertainty. river would divide by log2(1) = 0
            # when that class's probability is a hair below 1.0 (a tiny non-zero entropy).
            return 0.0
        return self._sampler._p(probabilities)

    def informativeness(self, prediction: Prediction, x: Features | None = None) -> float:
        return entropy(prediction.probabilities)
