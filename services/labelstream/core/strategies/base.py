"""The query-strategy contract: how likely a human is asked about an uncertain record.

A strategy maps a prediction to the probability of asking for a human
answer and to the answer's informativeness (the record's priority in the
review queue). The base class does the shared work, as river's
``ActiveLearningClassifier`` does: it consults the review budget (one gate
for every strategy), clips the probability to ``[min_probability, 1]``
(every record keeps a known, positive chance of review, which the
inverse-probability-weighted calibration needs), draws the decision, and
lets adaptive strategies update after the draw. Subclasses implement
``_probability`` and may override ``informativeness``, ``_after`` and
``learn_one``.

>>> from labelstream.core.policy.base import Prediction
>>> p = Prediction.from_probabilities({"a": 0.7, "b": 0.2, "c": 0.1})
>>> round(least_confidence(p.probabilities), 3), round(margin(p.probabilities), 3), round(entropy(p.probabilities), 3)
(0.45, 0.5, 0.73)
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labelstream.core.budget import ReviewBudget
from labelstream.core.policy.base import Prediction

Features = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Query:
    """A strategy's decision about one record.

    ``inclusion_probability`` is the record's probability of being asked: the
    strategy's own (never below its floor) times the budget gate's running
    admission rate — also when this draw found the gate closed (the gate is
    part of the random design); ``priority`` is the answer's informativeness
    in [0, 1].
    """

    ask: bool
    inclusion_probability: float
    priority: float
    over_budget: bool = False


def least_confidence(probabilities: Mapping[str, float]) -> float:
    """``1 - max p``, scaled to [0, 1] by its largest value ``1 - 1/K``."""
    k = len(probabilities)
    if k < 2:
        return 1.0
    return min(max((1.0 - max(probabilities.values())) / (1.0 - 1.0 / k), 0.0), 1.0)


def margin(probabilities: Mapping[str, float]) -> float:
    """``1 - (p1 - p2)``, one minus the gap between the two most probable labels."""
    if len(probabilities) < 2:
        return 1.0
    first, second = sorted(probabilities.values(), reverse=True)[:2]
    return min(max(1.0 - (first - second), 0.0), 1.0)


def entropy(probabilities: Mapping[str, float]) -> float:
    """Shannon entropy of the prediction, divided by its largest value ``log K``."""
    k = len(probabilities)
    if k < 2:
        return 1.0
    total = -sum(p * math.log(p) for p in probabilities.values() if p > 0)
    return min(max(total / math.log(k), 0.0), 1.0)


class QueryStrategy(ABC):
    """Decides whether a record that is not auto-labeled is worth a human answer.

    Parameters
    ----------
    min_probability
        Floor of the probability of asking (positivity for unbiased estimates).
    seed
        Seed of the draws.
    """

    name: str = "strategy"
    reads_inputs: bool = True
    """Whether :meth:`query` and :meth:`informativeness` read the model input ``x`` (``False``: the policy passes
    ``None``, and a batch's input of the record is not made: a featurized dict a record below its threshold)."""

    def __init__(self, min_probability: float = 0.0, seed: int | None = None) -> None:
        self.min_probability = min_probability
        self.seed = seed
        self._rng = random.Random(seed)

    def query(self, prediction: Prediction, x: Features | None = None, budget: ReviewBudget | None = None) -> Query:
        """Draw whether to ask a human about this record, within ``budget``."""
        priority = self.informativeness(prediction, x)
        admission = 1.0 if budget is None else budget.admission_rate()
        probability = min(max(self._probability(prediction, x), self.min_probability), 1.0)
        if budget is not None and not budget.request():
            return Query(False, probability * admission, priority, over_budget=True)
        ask = self._rng.random() < probability
        self._after(ask)
        if ask and budget is not None:
            budget.spend()
        return Query(ask, probability * admission, priority)

    @abstractmethod
    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        """Probability of asking about this record, before the floor."""

    def least_probability(self) -> float:
        """A lower bound of the probability of asking about any record, before the budget gate (the floor)."""
        return self.min_probability

    def informativeness(self, prediction: Prediction, x: Features | None = None) -> float:
        """Expected value of the answer in [0, 1] (default: least confidence)."""
        return least_confidence(prediction.probabilities)

    def _after(self, asked: bool) -> None:
        """Adapt after a draw within budget (default: nothing)."""

    def learn_one(self, x: Features, label: str) -> None:
        """Learn from a labeled example (strategies with their own models)."""

    def learned_state(self) -> dict[str, Any]:
        """What the strategy learned from answers, shipped with model snapshots (default: nothing)."""
        return {}

    def load_learned_state(self, state: dict[str, Any]) -> None:
        """Adopt learned state from a model snapshot (default: nothing)."""
