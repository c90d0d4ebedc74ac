"""The online label model: LF accuracies learned from answers, class-conditional where evidence allows."""

import random

import pytest

from labelstream.core.weak.label_model import MajorityVote, OnlineLabelModel


def stream(n: int, accuracies: dict[int, dict[str, float]], coverage: float = 0.6, seed: int = 0):
    """(votes, true label): LF j votes on a record with ``coverage`` and is right with ``accuracies[j][true]``."""
    rng = random.Random(seed)
    for _ in range(n):
        truth = rng.choice(["a", "b"])
        votes = []
        for j in sorted(accuracies):
            if rng.random() >= coverage:
                votes.append(None)
            elif rng.random() < accuracies[j][truth]:
                votes.append(truth)
            else:
                votes.append("b" if truth == "a" else "a")
        yield tuple(votes), truth


def test_before_any_answer_an_lf_is_trusted_at_the_prior():
    model = OnlineLabelModel(["lf"], prior_accuracy=0.8)
    assert model.accuracy() == {"lf": pytest.approx(0.8)}
    combined = model.combine_one({"a": 0.5, "b": 0.5}, ("a",))
    assert combined["a"] == pytest.approx(0.8)


def test_learned_accuracy_converges_to_the_true_one():
    model = OnlineLabelModel(["good", "bad"], halflife=None)
    for votes, truth in stream(3000, {0: {"a": 0.9, "b": 0.9}, 1: {"a": 0.55, "b": 0.55}}):
        model.learn_one(votes, truth)
    accuracy = model.accuracy()
    assert accuracy["good"] == pytest.approx(0.9, abs=0.03)
    assert accuracy["bad"] == pytest.approx(0.55, abs=0.03)


def test_accuracy_is_class_conditional_once_a_class_has_evidence():
    model = OnlineLabelModel(["lf"], halflife=None)
    for votes, truth in stream(3000, {0: {"a": 0.95, "b": 0.6}}):
        model.learn_one(votes, truth)
    by_class = model.class_accuracy()["lf"]
    assert by_class["a"] == pytest.approx(0.95, abs=0.03) and by_class["b"] == pytest.approx(0.6, abs=0.04)
    # a vote "b" is weaker evidence than a vote "a" (P(b|b)/P(b|a) = 0.6/0.05 vs P(a|a)/P(a|b) = 0.95/0.4)
    for_a = model.combine_one({"a": 0.5, "b": 0.5}, ("a",))["a"]
    for_b = model.combine_one({"a": 0.5, "b": 0.5}, ("b",))["b"]
    assert for_b > for_a


def test_an_accurate_lf_outweighs_an_unsure_model_and_a_worse_than_chance_lf_counts_against_its_vote():
    model = OnlineLabelModel(["sure", "contrary"], halflife=None)
    for votes, truth in stream(2000, {0: {"a": 0.97, "b": 0.97}, 1: {"a": 0.2, "b": 0.2}}):
        model.learn_one(votes, truth)
    assert model.combine_one({"a": 0.4, "b": 0.6}, ("a", None))["a"] > 0.9
    assert model.combine_one({"a": 0.5, "b": 0.5}, (None, "a"))["b"] > 0.7


def test_no_vote_keeps_the_model_distribution_and_a_saturated_model_can_still_be_outvoted():
    model = OnlineLabelModel(["x", "y", "z"], prior_accuracy=0.95, min_probability=1e-3)
    probabilities = {"a": 0.7, "b": 0.3}
    assert model.combine_many([probabilities], [(None, None, None)])[0] is probabilities
    assert model.combine_one({"a": 1.0, "b": 0.0}, ("b", "b", "b"))["b"] > 0.5


def test_an_empty_model_uses_the_class_prior_of_the_answers():
    model = OnlineLabelModel(["lf"])
    for _ in range(90):
        model.learn_one((None,), "a")
    for _ in range(10):
        model.learn_one((None,), "b")
    assert model.combine_one({}, ("b",))["a"] > 0.5  # 9:1 prior against one vote of 0.7 accuracy


def test_forgetting_follows_an_lf_whose_accuracy_changes():
    model = OnlineLabelModel(["lf"], halflife=200)
    for votes, truth in stream(2000, {0: {"a": 0.95, "b": 0.95}}, seed=1):
        model.learn_one(votes, truth)
    for votes, truth in stream(2000, {0: {"a": 0.6, "b": 0.6}}, seed=2):
        model.learn_one(votes, truth)
    assert model.accuracy()["lf"] == pytest.approx(0.6, abs=0.05)


def test_state_round_trip_gives_the_same_distributions():
    model = OnlineLabelModel(["p", "q"])
    for votes, truth in stream(500, {0: {"a": 0.9, "b": 0.7}, 1: {"a": 0.6, "b": 0.8}}):
        model.learn_one(votes, truth)
    copy = OnlineLabelModel(["p", "q"])
    copy.load_state(model.state())
    for votes in [("a", "b"), ("b", None), (None, "a")]:
        assert copy.combine_one({"a": 0.3, "b": 0.7}, votes) == pytest.approx(model.combine_one({"a": 0.3, "b": 0.7}, votes))
    # a renamed LF list keeps what still applies
    other = OnlineLabelModel(["q"])
    other.load_state(model.state())
    assert other.accuracy()["q"] == pytest.approx(model.accuracy()["q"])


def test_majority_vote_ignores_the_model_where_lfs_vote():
    vote = MajorityVote(["a", "b", "c"])
    assert vote.combine_one({"x": 0.99, "y": 0.01}, ("y", None, None)) == {"y": 1.0}
    assert vote.combine_one({"x": 0.99, "y": 0.01}, (None, None, None)) == {"x": 0.99, "y": 0.01}
    assert vote.accuracy() == {"a": None, "b": None, "c": None}


def test_pool_weights_count_an_lf_that_echoes_the_model_once_and_keep_one_that_adds_information():
    import random

    rng = random.Random(3)
    model = OnlineLabelModel(["echo", "informative"], halflife=None, learning_rate=0.05)
    for _ in range(3000):
        truth = rng.choice(["a", "b"])
        other = "b" if truth == "a" else "a"
        model_right = rng.random() < 0.8  # the model's top class is right 80 % of the time, at 0.8
        top = truth if model_right else other
        probabilities = {top: 0.8, ("b" if top == "a" else "a"): 0.2}
        echo = top  # votes the model's own guess: no information beyond it
        informative = truth if rng.random() < 0.9 else other  # independent of the model
        model.learn_one((echo, informative), truth, probabilities=probabilities)
    weights = model.weights()
    # the model and its echo carry one piece of evidence: the naive product counts it twice (weights 1 + 1);
    # learned, the pair counts about once (the optimum is a sum of 1; constant-step SGD hovers near it)
    assert model.model_weight_learned() < 1 and weights["echo"] < 1
    assert model.model_weight_learned() + weights["echo"] < 1.4
    assert weights["informative"] > 0.9


def test_without_the_model_probabilities_or_with_learn_weights_off_the_weights_stay_at_one():
    for kwargs, probabilities in (({}, None), ({"learn_weights": False}, {"a": 0.9, "b": 0.1})):
        model = OnlineLabelModel(["lf"], **kwargs)
        for _ in range(100):
            model.learn_one(("a",), "b", probabilities=probabilities)
        assert model.weights() == {"lf": 1.0}
