"""Variable uncertainty: a confidence threshold that adapts to the budget.

Žliobaitė et al. (2014), "Active learning with drifting streaming data",
Algorithm 3: ask when the top probability is below ``theta``; after asking,
lower ``theta`` by a factor ``1 - step`` (ask less), after not asking raise it
by ``1 + step`` (ask more). Only draws within the budget move ``theta``, so
over time the strategy spends the budget on the least confident records.

>>> from labelstream.core.policy.base import Prediction
>>> strategy = VariableUncertainty(step=0.1)
>>> sure = Prediction.from_probabilities({"a": 0.95, "b": 0.05})
>>> [strategy.query(sure).ask for _ in range(3)], round(strategy.theta, 3)
([True, False, True], 0.891)
"""

from __future__ import annotations

from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy


class VariableUncertainty(QueryStrategy):
    """Ask when the top probability is below a threshold that tracks the budget."""

    name = "variable_uncertainty"
    reads_inputs = False  # its probability and informativeness are the prediction's alone

    def __init__(
        self, theta: float = 1.0, step: float = 0.01, min_probability: float = 0.0, seed: int | None = None
    ) -> None:
        super().__init__(min_probability, seed)
        self.initial_theta = theta
        self.step = step
        self.theta = theta

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        return 1.0 if prediction.confidence < self.theta else 0.0

    def _after(self, asked: bool) -> None:
        self.theta = self.theta * (1.0 - self.step) if asked else min(self.theta * (1.0 + self.step), 1.0)
