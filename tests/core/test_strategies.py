"""Query strategies: probabilities, recorded inclusion probabilities, the shared budget gate."""

from __future__ import annotations

import random

import pytest
from river.active import EntropySampler

from labelstream.core.budget import ReviewBudget
from labelstream.core.model import OnlineModel
from labelstream.core.policy.base import Prediction
from labelstream.core.strategies import (
    Entropy,
    FixedUncertainty,
    LeastConfidence,
    Margin,
    QueryByCommittee,
    RandomizedVariableUncertainty,
    RiverEntropySampler,
    Split,
    VariableUncertainty,
)

ALL = [
    lambda: LeastConfidence(seed=1),
    lambda: Margin(seed=1),
    lambda: Entropy(seed=1),
    lambda: QueryByCommittee([OnlineModel("gaussian_nb")], seed=1),
    lambda: FixedUncertainty(0.9, seed=1),
    lambda: VariableUncertainty(seed=1),
    lambda: RandomizedVariableUncertainty(seed=1),
    lambda: Split(seed=1),
    lambda: RiverEntropySampler(seed=1),
]


def prediction(p: float) -> Prediction:
    return Prediction.from_probabilities({"a": p, "b": 1 - p})


@pytest.mark.parametrize("make", ALL)
def test_every_strategy_records_a_probability_and_a_priority(make):
    strategy = make()
    for p in (0.5, 0.7, 0.99):
        query = strategy.query(prediction(p), {"x": 1.0})
        assert 0.0 <= query.inclusion_probability <= 1.0
        assert 0.0 <= query.priority <= 1.0
        assert query.ask is False or query.inclusion_probability > 0


@pytest.mark.parametrize("make", ALL)
def test_a_closed_budget_stops_every_strategy_without_a_draw(make):
    strategy = make()
    budget = ReviewBudget(share=0.0001, reserve=0.0)
    budget.count_record()
    budget.try_spend()  # the only slot
    state = strategy._rng.getstate()
    admission = budget.admission_rate()
    query = strategy.query(prediction(0.55), {"x": 1.0}, budget)
    assert query.over_budget and not query.ask
    # the record's design probability stays what it was: the closed gate is part of the random design
    assert 0.0 < query.inclusion_probability <= admission
    assert strategy._rng.getstate() == state


def test_less_confident_records_are_asked_more_often():
    for strategy in (LeastConfidence(), Margin(), Entropy(), RiverEntropySampler()):
        assert strategy._probability(prediction(0.55), None) > strategy._probability(prediction(0.95), None)


def test_variable_uncertainty_spends_about_the_share_it_is_given():
    """The budget gate feeds the strategy; the threshold settles where it asks about what the gate allows."""
    rng = random.Random(0)
    budget = ReviewBudget(share=0.2, reserve=0.0)
    strategy = VariableUncertainty(seed=1)
    asked = 0
    for _ in range(5000):
        budget.count_record()
        asked += strategy.query(prediction(rng.uniform(0.5, 1.0)), None, budget).ask
    assert 0.18 <= asked / 5000 <= 0.201
    assert 0.5 < strategy.theta < 1.0


def test_randomized_variable_uncertainty_inclusion_probability_is_the_ask_frequency():
    strategy = RandomizedVariableUncertainty(theta=0.9, step=0.0, delta=0.5, seed=3)
    draws = [strategy.query(prediction(0.93)) for _ in range(20_000)]
    frequency = sum(d.ask for d in draws) / len(draws)
    assert frequency == pytest.approx(draws[0].inclusion_probability, abs=0.01)


def test_split_mixes_random_sampling_and_variable_uncertainty():
    strategy = Split(random_share=0.25, random_probability=0.4, seed=1)
    strategy.variable.theta = 0.8
    assert strategy._probability(prediction(0.95), None) == pytest.approx(0.1)
    assert strategy._probability(prediction(0.6), None) == pytest.approx(0.1 + 0.75)


def test_river_entropy_sampler_asks_with_rivers_probability():
    probabilities = {"a": 0.7, "b": 0.3}
    ours = RiverEntropySampler(discount_factor=2)._probability(Prediction.from_probabilities(probabilities), None)
    assert ours == pytest.approx(EntropySampler(classifier=None, discount_factor=2)._p(probabilities))


def test_river_entropy_sampler_never_asks_when_one_class_holds_all_the_mass():
    # river's own _p divides by log2(1) = 0 here (a probability a hair below 1.0 leaves a tiny entropy).
    for top in (1.0, 1 - 1e-12):
        query = RiverEntropySampler(seed=1).query(Prediction.from_probabilities({"a": top, "b": 0.0}))
        assert query.inclusion_probability == 0.0


def test_committee_disagreement_grows_when_members_disagree_with_the_main_model():
    committee = QueryByCommittee([OnlineModel("gaussian_nb", seed=1), OnlineModel("logistic", seed=2)])
    for i in range(300):
        committee.learn_one({"x": float(i % 2)}, "one" if i % 2 else "zero")
    agree = committee.informativeness(Prediction.from_probabilities({"one": 0.95, "zero": 0.05}), {"x": 1.0})
    disagree = committee.informativeness(Prediction.from_probabilities({"one": 0.05, "zero": 0.95}), {"x": 1.0})
    assert disagree > agree + 0.2
    assert committee.learned_state()["members"][0].n_learned == 300
