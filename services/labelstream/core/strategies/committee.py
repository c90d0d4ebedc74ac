"""Query by committee: ask where a committee of models disagrees.

The committee (models named in settings, e.g. Gaussian naive Bayes and a
Hoeffding adaptive tree) learns from every human answer alongside the main
model. Disagreement is the Jensen–Shannon divergence of the members'
predictions and the main model's (the mean KL divergence to their consensus),
divided by its largest value ``log min(members, classes)``; the probability
of asking is that disagreement.

>>> from labelstream.core.model import OnlineModel
>>> from labelstream.core.policy.base import Prediction
>>> committee = QueryByCommittee([OnlineModel("gaussian_nb"), OnlineModel("hoeffding_adaptive_tree")], seed=1)
>>> for i in range(200):
...     x = {"x": float(i % 10)}
...     committee.learn_one(x, "big" if i % 10 > 4 else "small")
>>> main = Prediction.from_probabilities({"big": 0.1, "small": 0.9})
>>> round(committee.informativeness(main, {"x": 9.0}), 2)  # the main model is wrong, the committee sure
0.72
>>> round(committee.informativeness(Prediction.from_probabilities({"big": 0.95, "small": 0.05}), {"x": 9.0}), 2)
0.03
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from labelstream.core.model import OnlineModel
from labelstream.core.policy.base import Prediction
from labelstream.core.strategies.base import Features, QueryStrategy


def _entropy_bits(probabilities: Sequence[float]) -> float:
    return -sum(p * math.log2(p) for p in probabilities if p > 0)


class QueryByCommittee(QueryStrategy):
    """Ask with probability equal to the committee's normalized disagreement."""

    name = "query_by_committee"

    def __init__(self, members: Sequence[OnlineModel], min_probability: float = 0.0, seed: int | None = None) -> None:
        super().__init__(min_probability, seed)
        if not members:
            raise ValueError("query by committee needs at least one committee model")
        self.members = list(members)

    def informativeness(self, prediction: Prediction, x: Features | None = None) -> float:
        votes = [prediction.probabilities] if prediction.probabilities else []
        if x is not None:
            votes += [p for p in (member.predict_proba_one(dict(x)) for member in self.members) if p]
        if len(votes) < 2:
            return 1.0
        labels = sorted(set().union(*votes))
        rows = [[vote.get(label, 0.0) for label in labels] for vote in votes]
        consensus = [sum(column) / len(rows) for column in zip(*rows, strict=True)]
        divergence = _entropy_bits(consensus) - sum(_entropy_bits(row) for row in rows) / len(rows)
        scale = math.log2(min(len(rows), len(labels)))
        return min(max(divergence / scale, 0.0), 1.0) if scale > 0 else 0.0

    def _probability(self, prediction: Prediction, x: Features | None) -> float:
        return self.informativeness(prediction, x)

    def learn_one(self, x: Features, label: str) -> None:
        for member in self.members:
            member.learn_one(dict(x), label)

    def learned_state(self) -> dict[str, Any]:
        return {"members": self.members}

    def load_learned_state(self, state: dict[str, Any]) -> None:
        self.members = list(state.get("members", self.members))
