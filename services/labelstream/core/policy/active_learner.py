"""River-style active learning with no precision contract: a baseline.

Every record is auto-labeled except those the query strategy asks about
(as ``river.active.EntropySampler`` does: predict everything, ask for some
labels); an asked record goes to review within the budget, else it waits.
Nothing bounds the precision of the auto-labels: this is what the contract
policy is measured against.

>>> from labelstream.core.strategies import FixedUncertainty
>>> policy = ActiveLearnerPolicy(FixedUncertainty(threshold=0.8), cold_start_records=0, cold_start_corrections=0)
>>> [policy.decide(Prediction.from_probabilities({"a": p, "b": 1 - p}), n_learned=10).outcome for p in (0.6, 0.9)]
['review', 'label']
"""

from __future__ import annotations

from labelstream.core.budget import ReviewBudget
from labelstream.core.policy.base import Decision, Features, Policy, Prediction, review_within_budget
from labelstream.core.policy.threshold import ColdStart
from labelstream.core.strategies.base import QueryStrategy


class ActiveLearnerPolicy(Policy):
    """Auto-label unless the strategy asks; asked records are reviewed within the budget."""

    name = "active_learner"

    def __init__(
        self,
        strategy: QueryStrategy,
        budget: ReviewBudget | None = None,
        cold_start_records: int = 100,
        cold_start_corrections: int = 50,
    ) -> None:
        self.strategy = strategy
        self.budget = budget or ReviewBudget()
        self.cold_start_records = cold_start_records
        self.cold_start_corrections = cold_start_corrections
        self._cold_start = ColdStart(cold_start_records, cold_start_corrections)

    def decide(self, prediction: Prediction, n_learned: int, x: Features | None = None) -> Decision:
        self.budget.count_record()
        if self._cold_start.active(n_learned) or prediction.label is None:
            return review_within_budget(self.budget, "cold_start", reserved=True)
        query = self.strategy.query(prediction, x)
        if not query.ask:
            return Decision("label", "confident")
        if self.budget.try_spend():
            return Decision("review", "uncertain", query.inclusion_probability, query.priority)
        return Decision("deferred", "over_budget", priority=query.priority)

    def accepts(self, prediction: Prediction) -> bool:
        return prediction.label is not None

    def observe(self, x: Features, label: str) -> None:
        self.strategy.learn_one(x, label)
