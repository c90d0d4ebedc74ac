"""The reviewer-accuracy bounds from overlap and gold items: each is ever below the true accuracy in at most alpha
of runs, and the contract's agreement bar follows the least of them (only down, never below what they prove)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.stats import binom

from labelstream.core.calibration import PrecisionCalibrator, agreement_bar
from labelstream.core.calibration_reviewers import ConditionalGoldBound, GoldAccuracyBound, ReviewerAccuracyBound
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.strategies import VariableUncertainty

ALPHA, ACCURACY, PAIRS, RUNS = 0.05, 0.97, 1600, 300


def agreements(seed: int, classes: int = 2) -> np.ndarray:
    """Whether two independent reviewers, each right ``ACCURACY`` of the time, agree on each of ``PAIRS`` items."""
    rng = np.random.default_rng(seed)
    right = rng.random((PAIRS, 2)) < ACCURACY
    wrong_as = rng.integers(1, classes, (PAIRS, 2))  # which wrong label, when wrong
    return (right[:, 0] & right[:, 1]) | (~right[:, 0] & ~right[:, 1] & (wrong_as[:, 0] == wrong_as[:, 1]))


def ever_below(agree: np.ndarray, bound_of) -> bool:
    """Whether the bound, looked at after every pair, is ever below the true accuracy."""
    bound = bound_of()
    for same in agree:
        bound.learn_pair("a", "a" if same else "b")
        if bound.upper() < ACCURACY:
            return True
    return False


class PointEstimate(ReviewerAccuracyBound):
    """The control: sqrt of the observed agreement, looked at every time — what the checkpoints guard against."""

    def upper(self) -> float:
        return float(np.sqrt(self.agreements / self.pairs)) if self.pairs >= self.first else 1.0


@pytest.mark.parametrize("classes", [2, 5])
def test_the_bound_is_ever_below_the_true_accuracy_in_at_most_alpha_of_runs(classes):
    fails = sum(ever_below(agreements(seed, classes), lambda: ReviewerAccuracyBound(ALPHA)) for seed in range(RUNS))
    assert fails <= binom.ppf(0.999, RUNS, ALPHA)


def test_the_harness_catches_a_point_estimate():
    fails = sum(ever_below(agreements(seed), lambda: PointEstimate(ALPHA)) for seed in range(RUNS))
    assert fails > binom.ppf(0.999, RUNS, ALPHA)


def test_the_bound_only_moves_down_and_approaches_the_accuracy():
    bound, seen = ReviewerAccuracyBound(ALPHA), []
    for same in agreements(1):
        bound.learn_pair("x", "x" if same else "y")
        seen.append(bound.upper())
    assert seen[0] == 1.0 and all(b <= a for a, b in zip(seen, seen[1:], strict=False))
    assert ACCURACY <= seen[-1] < 0.99


def _policy(accuracy: float = 1.0) -> ContractPolicy:
    calibrator = PrecisionCalibrator(0.95, 0.975, reviewer_accuracy=accuracy)
    return ContractPolicy(calibrator, VariableUncertainty(), reviewer_bound=ReviewerAccuracyBound(0.025), seed=1)


def test_overlap_answers_lower_the_agreement_bar_and_travel_with_the_state():
    rng, policy = random.Random(2), _policy()
    for _ in range(400):
        policy.learn_overlap(["a", "a" if rng.random() < 0.94 else "b"])
    accuracy = policy.reviewer_bound.upper()
    assert accuracy < 0.995 and policy.calibrator.reviewer_accuracy == accuracy
    assert policy.calibrator.bar == pytest.approx(agreement_bar(0.95, accuracy))
    # Fewer flawless answers prove a threshold of a model that agrees 97 % of the time with such reviewers.
    assert policy.calibrator.answers_to_prove(0.97) < PrecisionCalibrator(0.95, 0.975).answers_to_prove(0.97) / 2

    labeler = _policy()
    labeler.load_learned_state(policy.learned_state())
    assert labeler.calibrator.bar == policy.calibrator.bar and labeler.reviewer_bound.pairs == 400


def test_the_bound_never_raises_the_accuracy_the_user_assumed():
    policy = _policy(accuracy=0.9)
    for _ in range(400):
        policy.learn_overlap(["a", "a"])
    assert policy.calibrator.reviewer_accuracy == 0.9
    policy.learn(Evidence(Prediction.from_probabilities({"a": 0.99, "b": 0.01}), "a", reason="cold_start",
                          context={"outcome": "review", "generation": 0, "p_review": 1.0}))
    assert policy.calibrator.bar == pytest.approx(agreement_bar(0.95, 0.9))


def ever_proves_with_a_moving_bar(seed: int, final_accuracy: float, answers: int = 800, told: bool = False) -> bool:
    """A model exactly at the target everywhere, reviewers right 97 % of the time; the calibrator's assumed
    accuracy steps down from 1 to ``final_accuracy`` as a bound would (after 50, 100, 150 answers), or is
    ``final_accuracy`` from the start (``told``: the user's ``policy.reviewer_accuracy``). Every answer bets
    on 0.9 (scores in [0.9, 1])."""
    rng = random.Random(seed)
    steps = {0: final_accuracy} if told else {50: 0.99, 100: 0.98, 150: final_accuracy}
    cal = PrecisionCalibrator(0.95, 0.95, grid=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99), scan_starts=(0.99, 0.9),
                              check_window=0)
    for n in range(answers):
        if n in steps:
            cal.set_reviewer_accuracy(max(steps[n], final_accuracy))
        right, reviewer_right = rng.random() < 0.95, rng.random() < ACCURACY
        cal.learn_one("a", rng.uniform(0.9, 1.0), right == reviewer_right)  # agreement with the (binary) reviewer
        if cal.threshold("a") is not None:
            return True
    return False


@pytest.mark.parametrize("told", [False, True], ids=["bound", "told"])
def test_a_bar_at_the_true_accuracy_keeps_the_promise_against_the_truth(told):
    """Reviewers wrong 3 % of the time, the bar corrected for exactly that: a model whose precision against the
    *truth* is the target is proven in at most alpha of runs."""
    runs = 30
    proofs = sum(ever_proves_with_a_moving_bar(seed, ACCURACY, told=told) for seed in range(runs))
    assert proofs <= binom.ppf(0.999, runs, ALPHA)


@pytest.mark.parametrize("told", [False, True], ids=["bound", "told"])
def test_the_moving_bar_harness_catches_a_bar_below_the_true_accuracy(told):
    """The control: the same correction for reviewers wrong 10 % of the time (more than they are) is caught."""
    runs = 6
    proofs = sum(ever_proves_with_a_moving_bar(seed, 0.9, told=told) for seed in range(runs))
    assert proofs > binom.ppf(0.999, runs, ALPHA)


# -- gold items ----------------------------------------------------------------------------------------------------


def gold_answers(seed: int, accuracy: float = ACCURACY) -> np.ndarray:
    """Whether a reviewer right ``accuracy`` of the time answers each of ``PAIRS`` gold items right."""
    return np.random.default_rng(seed).random(PAIRS) < accuracy


def gold_ever_below(right: np.ndarray, bound: GoldAccuracyBound) -> bool:
    """Whether the gold bound, looked at after every answer, is ever below the true accuracy."""
    for correct in right:
        bound.learn(bool(correct))
        if bound.upper() < ACCURACY:
            return True
    return False


class GoldPointEstimate(GoldAccuracyBound):
    """The control: the observed share right, looked at every time."""

    def upper(self) -> float:
        return self.right / self.answers if self.answers >= self.first else 1.0


def test_the_gold_bound_is_ever_below_the_true_accuracy_in_at_most_alpha_of_runs():
    fails = sum(gold_ever_below(gold_answers(seed), GoldAccuracyBound(ALPHA)) for seed in range(RUNS))
    assert fails <= binom.ppf(0.999, RUNS, ALPHA)


def test_the_gold_harness_catches_a_point_estimate():
    fails = sum(gold_ever_below(gold_answers(seed), GoldPointEstimate(ALPHA)) for seed in range(RUNS))
    assert fails > binom.ppf(0.999, RUNS, ALPHA)


def test_the_gold_bound_only_moves_down_approaches_the_accuracy_and_travels_in_its_state():
    bound, seen = GoldAccuracyBound(ALPHA), []
    for correct in gold_answers(1):
        bound.learn(bool(correct))
        seen.append(bound.upper())
    assert seen[0] == 1.0 and all(b <= a for a, b in zip(seen, seen[1:], strict=False))
    assert ACCURACY <= seen[-1] < 0.99
    copy = GoldAccuracyBound(ALPHA)
    copy.load_state(bound.state())
    assert (copy.upper(), copy.answers, copy.right) == (bound.upper(), PAIRS, int(gold_answers(1).sum()))


def _gold_policy(overlap: bool = False) -> ContractPolicy:
    calibrator = PrecisionCalibrator(0.95, 0.975)
    return ContractPolicy(calibrator, VariableUncertainty(), reviewer_bound=ReviewerAccuracyBound(0.0125) if overlap
                          else None, gold_bound=GoldAccuracyBound(0.0125), seed=1)


def test_gold_answers_lower_the_agreement_bar_and_travel_with_the_state():
    rng, policy = random.Random(2), _gold_policy()
    for _ in range(400):
        policy.learn_gold(rng.random() < 0.94)
    accuracy = policy.gold_bound.upper()
    assert accuracy < 0.99 and policy.calibrator.reviewer_accuracy == accuracy
    assert policy.calibrator.bar == pytest.approx(agreement_bar(0.95, accuracy))
    labeler = _gold_policy()
    labeler.load_learned_state(policy.learned_state())
    assert labeler.calibrator.bar == policy.calibrator.bar and labeler.gold_bound.answers == 400


def test_with_both_sources_the_bar_follows_the_least_bound():
    rng, policy = random.Random(4), _gold_policy(overlap=True)
    for _ in range(400):
        policy.learn_overlap(["a", "a"])  # flawless pairs: the overlap bound stays high
        policy.learn_gold(rng.random() < 0.9)
    assert policy.gold_bound.upper() < policy.reviewer_bound.upper()
    assert policy.calibrator.reviewer_accuracy == policy.gold_bound.upper()
    labeler = _gold_policy(overlap=True)
    labeler.load_learned_state(policy.learned_state())
    assert labeler.calibrator.reviewer_accuracy == policy.gold_bound.upper()


def ever_proves_with_the_gold_bound(seed: int, gold_accuracy: float = ACCURACY, answers: int = 800) -> bool:
    """A model exactly at the target (against the truth), reviewers right ``ACCURACY`` of the time on stream
    items and ``gold_accuracy`` on gold items; every answer also brings a gold answer, and the calibrator's
    assumed accuracy follows the gold bound (as the policy sets it). Every answer bets on 0.9 (scores in [0.9, 1])."""
    rng = random.Random(seed)
    gold = GoldAccuracyBound(0.025)
    cal = PrecisionCalibrator(0.95, 0.95, grid=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99), scan_starts=(0.99, 0.9),
                              check_window=0)
    for _ in range(answers):
        gold.learn(rng.random() < gold_accuracy)
        if gold.upper() < cal.reviewer_accuracy:
            cal.set_reviewer_accuracy(gold.upper())
        right, reviewer_right = rng.random() < 0.95, rng.random() < ACCURACY
        cal.learn_one("a", rng.uniform(0.9, 1.0), right == reviewer_right)  # agreement with the (binary) reviewer
        if cal.threshold("a") is not None:
            return True
    return False


def test_a_bar_following_the_gold_bound_keeps_the_promise_against_the_truth():
    runs = 30
    proofs = sum(ever_proves_with_the_gold_bound(seed) for seed in range(runs))
    assert proofs <= binom.ppf(0.999, runs, ALPHA)


def test_the_gold_harness_catches_gold_items_harder_than_the_stream():
    """The control, and the assumption it guards: gold items on which reviewers err 15 % of the time (3 % on the
    stream) lower the bar below the truth, and the model at the target is proven far more often than alpha."""
    runs = 12
    proofs = sum(ever_proves_with_the_gold_bound(seed, gold_accuracy=0.85) for seed in range(runs))
    assert proofs > binom.ppf(0.999, runs, ALPHA)


# -- gold items shown with the model's proposal (the conditional bound) --------------------------------------------

FOLLOW_RIGHT, FOLLOW_WRONG = 0.99, 0.8  # reviewers right 99 % where the model is; accepting 80 % of its wrong proposals


def _follower(rng: random.Random, model_right: bool) -> bool:
    """Whether a reviewer who follows the model agrees with its (binary) prediction."""
    return rng.random() < (FOLLOW_RIGHT if model_right else FOLLOW_WRONG)


def ever_proves_following_the_model(seed: int, bar: str, answers: int = 3000, wrong_bound: float | None = None) -> bool:
    """A model exactly at the target (against the truth), reviewers who err with it (:func:`_follower`: agreement
    0.95 * 0.99 + 0.05 * 0.8 = 0.9805, above the target). Every answer also brings one to a gold item drawn like
    the stream's, shown with the model's proposal; the bar is ``"conditional"`` (:class:`ConditionalGoldBound`,
    ``wrong_bound`` replacing its ``B`` in the control), ``"accuracy"`` (the gold accuracy bound's) or
    ``"default"`` (the target). Every answer bets on 0.9 (scores in [0.9, 1])."""
    rng = random.Random(seed)
    conditional, accuracy = ConditionalGoldBound(0.025), GoldAccuracyBound(0.025)
    cal = PrecisionCalibrator(0.95, 0.95, grid=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99), scan_starts=(0.99, 0.9),
                              check_window=0)
    for _ in range(answers):
        model_right = rng.random() < 0.95
        agreed = _follower(rng, model_right)
        conditional.learn(model_right, agreed)
        accuracy.learn(agreed == model_right)
        if bar == "conditional":
            upper_r = conditional.right_bound.upper()
            cal.set_agreement_bar(conditional.bar(0.95) if wrong_bound is None else 0.95 * upper_r + 0.05 * wrong_bound)
        elif bar == "accuracy" and accuracy.upper() < cal.reviewer_accuracy:
            cal.set_reviewer_accuracy(accuracy.upper())
        right = rng.random() < 0.95
        cal.learn_one("a", rng.uniform(0.9, 1.0), _follower(rng, right))
        if cal.threshold("a") is not None:
            return True
    return False


def test_the_conditional_gold_bar_keeps_the_promise_against_reviewers_who_follow_the_model():
    runs = 30
    proofs = sum(ever_proves_following_the_model(seed, "conditional") for seed in range(runs))
    assert proofs <= binom.ppf(0.999, runs, ALPHA)


@pytest.mark.parametrize("bar", ["default", "accuracy"])
def test_reviewers_who_follow_the_model_break_the_default_and_the_accuracy_bar(bar):
    """What the conditional bound is for: agreement 0.9805 at a precision of 0.95 beats the target's bar and the
    gold accuracy bound's (accuracy 0.9505, bar about 0.906) in most runs."""
    runs = 6
    proofs = sum(ever_proves_following_the_model(seed, bar) for seed in range(runs))
    assert proofs > binom.ppf(0.999, runs, ALPHA)


def test_the_conditional_harness_catches_a_wrong_proposal_bound_below_the_truth():
    """The control: ``B`` at 0.4 (reviewers accept 80 % of the wrong proposals) puts the bar near 0.965, under the
    agreement 0.9805, and the model at the target is proven far more often than alpha."""
    runs = 6
    proofs = sum(ever_proves_following_the_model(seed, "conditional", wrong_bound=0.4) for seed in range(runs))
    assert proofs > binom.ppf(0.999, runs, ALPHA)


def test_the_conditional_bound_learns_only_answers_to_a_proposal_and_travels_in_the_state():
    rng = random.Random(6)
    calibrator = PrecisionCalibrator(0.95, 0.975)
    policy = ContractPolicy(calibrator, VariableUncertainty(), gold_bound=ConditionalGoldBound(0.0125), seed=1)
    assert policy.calibrator.bar == 1.0  # nothing measured: nothing is provable
    policy.learn_gold(True)  # no proposal shown (cold start): not learned
    for _ in range(2000):
        model_right = rng.random() < 0.9
        policy.learn_gold(True, model_right, _follower(rng, model_right))
    bound = policy.gold_bound
    assert bound.right_bound.answers + bound.wrong_bound.answers == 2000
    assert policy.calibrator.bar == pytest.approx(bound.bar(0.95)) and 0.95 < policy.calibrator.bar < 1.0
    labeler = ContractPolicy(PrecisionCalibrator(0.95, 0.975), VariableUncertainty(),
                             gold_bound=ConditionalGoldBound(0.0125), seed=1)
    labeler.load_learned_state(policy.learned_state())
    assert labeler.calibrator.bar == policy.calibrator.bar
    with pytest.raises(ValueError, match="alone"):
        ContractPolicy(PrecisionCalibrator(0.95, 0.975, reviewer_accuracy=0.97), VariableUncertainty(),
                       gold_bound=ConditionalGoldBound(0.0125))
