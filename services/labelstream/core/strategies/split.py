"""Split: a random share of the stream sampled uniformly, the rest by variable uncertainty.

Žliobaitė et al. (2014), "Active learning with drifting streaming data",
Algorithm 5: with probability ``random_share`` a record is handled by random
sampling (asked with probability ``random_probability``), otherwise by
variable uncertainty. Random sampling sees every region of the score range,
so the strategy keeps an unbiased view of what the model gets wrong.

>>> from labelstream.core.policy.base import Prediction
>>> strategy = Split(random_share=0.2, random_probability=0.3, seed=2)
>>> strategy.variable.theta = 0.8
>>> sure = Prediction.from_probabilities({"a": 0.95, "b": 0.05})
>>> round(strategy.query(sure).inclusion_probability, 3)  # 0.2 * 0.3: only the random part can ask
0.06
"""

from __future__ import annotations

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy
from labelstream.core.strategies.variable_uncertainty import VariableUncertainty


class Split(QueryStrategy):
    """Random sampling on a share of the stream, variable uncertainty on the rest."""

    name = "split"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def __init__(
        self,
        random_share: float = 0.2,
        random_probability: float = 0.3,
        theta: float = 1.0,
        step: float = 0.01,
        min_probability: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(min_probability, seed)
        self.random_share = random_share
        self.random_probability = random_probability
        self.variable = VariableUncertainty(theta, step)

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        variable = self.variable._probability(prediction, x)
        return self.random_share * self.random_probability + (1.0 - self.random_share) * variable

    def least_probability(self) -> float:
        """The random part asks about any record with probability ``random_share * random_probability``."""
        return max(self.min_probability, self.random_share * self.random_probability)

    def _after(self, asked: bool) -> None:
        # Which branch drew the answer is not observed by the caller; variable uncertainty
        # adapts on every draw within budget, as in the paper's budget-tracking loop.
        self.variable._after(asked)
