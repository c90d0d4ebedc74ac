"""Online confident learning: the per-class thresholds, the flag rule, its guards, and what it catches."""

from __future__ import annotations

import random

import pytest

from labelstream.core.label_errors import Flag, LabelErrorDetector


def test_thresholds_are_each_classs_mean_self_confidence_and_then_a_moving_average():
    detector = LabelErrorDetector(min_answers=2, window=3)
    for p_cat in (0.9, 0.7):
        detector.learn_one({"cat": p_cat, "dog": 1 - p_cat}, "cat")
    detector.learn_one({"cat": 0.4, "dog": 0.6}, "dog")
    assert detector.thresholds() == {"cat": pytest.approx(0.8)}  # dog has one answer: not trusted yet
    detector.learn_one({"cat": 0.2, "dog": 0.8}, "dog")
    assert detector.thresholds() == {"cat": pytest.approx(0.8), "dog": pytest.approx(0.7)}
    for p_cat in (0.6, 0.3):  # past the window (3): each new answer weighs 1/3
        detector.learn_one({"cat": p_cat, "dog": 1 - p_cat}, "cat")
    mean3 = (0.9 + 0.7 + 0.6) / 3
    assert detector.thresholds()["cat"] == pytest.approx(mean3 + (0.3 - mean3) / 3)


def test_the_flag_is_the_confident_joints_off_diagonal():
    detector = LabelErrorDetector(min_confidence=0.0, min_answers=1)
    detector.learn_one({"a": 0.6, "b": 0.3, "c": 0.1}, "a")  # t_a = 0.6
    detector.learn_one({"a": 0.1, "b": 0.5, "c": 0.4}, "b")  # t_b = 0.5
    detector.learn_one({"a": 0.1, "b": 0.2, "c": 0.3}, "c")  # t_c = 0.3
    # classes at or above their own threshold: b (0.5 >= 0.5) and c (0.45 >= 0.3); the most probable, b, is j*
    flag = detector.check({"a": 0.05, "b": 0.5, "c": 0.45}, "c")
    assert flag == Flag("c", "b", 0.5, 0.5)
    assert detector.check({"a": 0.05, "b": 0.5, "c": 0.45}, "b") is None  # on the diagonal
    # no class reaches its threshold: not counted in the joint, not flagged (a is 0.55 < 0.6)
    assert detector.check({"a": 0.55, "b": 0.25, "c": 0.2}, "b") is None and detector.check({"a": 0.55, "b": 0.45, "c": 0.0}, "c") is None
    # a class below everyone's confidence but above its own low threshold still counts: c at 0.35 vs b at 0.45 < 0.5
    assert detector.check({"a": 0.2, "b": 0.45, "c": 0.35}, "a") == Flag("a", "c", 0.35, 0.3)


def test_guards_a_young_model_and_an_unknown_class_are_never_flagged():
    detector = LabelErrorDetector(min_confidence=0.9, min_answers=5)
    for _ in range(4):
        detector.learn_one({"cat": 0.95, "dog": 0.05}, "cat")
        detector.learn_one({"cat": 0.05, "dog": 0.95}, "dog")
    assert detector.check({"cat": 0.99, "dog": 0.01}, "dog") is None  # 4 answers a class: thresholds not trusted
    detector.learn_one({"cat": 0.95, "dog": 0.05}, "cat")
    assert detector.check({"cat": 0.99, "dog": 0.01}, "dog") is not None
    assert detector.check({"cat": 0.99, "dog": 0.01}, "fox") is None  # a class the model has never seen
    detector.min_confidence = 0.995
    assert detector.check({"cat": 0.99, "dog": 0.01}, "dog") is None  # above t_cat but not confident enough


def test_counts_and_state_round_trip():
    detector = LabelErrorDetector(min_answers=1, min_confidence=0.5)
    detector.learn_one({"x": 0.9, "y": 0.1}, "x")
    detector.learn_one({"x": 0.9, "y": 0.1}, "y", flagged=True)
    assert detector.resolve("y", "x") == "overturned" and detector.resolve(Flag("y", "x", 0.9, 0.9), "y") == "confirmed"
    clone = LabelErrorDetector(min_answers=1, min_confidence=0.5)
    clone.load_state(detector.state())
    assert clone.state() == detector.state()
    assert clone.counts() == {"checked": 2, "flagged": 1, "confirmed": 1, "overturned": 1}
    assert clone.check({"x": 0.95, "y": 0.05}, "y") == detector.check({"x": 0.95, "y": 0.05}, "y")


def test_on_a_calibrated_model_flags_are_mostly_wrong_answers_and_catch_most_confident_ones():
    """A calibrated model (the true label drawn from its probabilities) and reviewers wrong 5 % of the time.

    A flagged answer is wrong far more often than the 5 % base rate (the rule's point), and the wrong
    answers on records the model is sure of (p >= 0.95) are flagged. What to expect, per answer whose
    top class has probability p (all reach t_top ~ 0.81 and min_confidence 0.9): the answer differs from
    the top class either because the model is wrong and the reviewer right, (1 - p) * 0.95, or the
    reviewer wrong, p * 0.05; so flags are wrong answers 32 % of the time at p = 0.9, 63 % at 0.97,
    84 % at 0.99: 52 % over the three. A calibrated model at 0.9 is wrong 1 time in 10, and then the
    reviewer is right: the second review is there for those. Bounds: with ~1000 flags the share's
    standard error is 0.016; 0.45 is 4 of them below 0.52 and 9 times the base rate.
    """
    rng = random.Random(3)
    labels = ["a", "b", "c"]
    detector = LabelErrorDetector(min_confidence=0.9, min_answers=30)
    flagged = flagged_wrong = sure_wrong = sure_wrong_flagged = wrong = 0
    for _ in range(20_000):
        top = rng.choice(labels)
        p_top = rng.choice([0.5, 0.7, 0.9, 0.97, 0.99])
        probabilities = {label: p_top if label == top else (1 - p_top) / 2 for label in labels}
        truth = rng.choices(labels, weights=[probabilities[label] for label in labels])[0]
        answer = rng.choice([label for label in labels if label != truth]) if rng.random() < 0.05 else truth
        flag = detector.check(probabilities, answer)
        detector.learn_one(probabilities, answer, flagged=flag is not None)
        wrong += answer != truth
        if flag is not None:
            flagged += 1
            flagged_wrong += answer != truth
        if p_top >= 0.95 and answer != truth and truth == top:
            sure_wrong += 1
            sure_wrong_flagged += flag is not None
    assert flagged_wrong / flagged > 0.45, (flagged_wrong, flagged)
    assert sure_wrong > 200 and sure_wrong - sure_wrong_flagged <= 5  # only during the warm-up (min_answers)
    assert flagged < 0.08 * 20_000  # the cost: 3/5 of answers (p >= 0.9) times ~9 % flagged there
    assert 0.04 < wrong / 20_000 < 0.06


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError):
        LabelErrorDetector(min_confidence=1.5)
    with pytest.raises(ValueError):
        LabelErrorDetector(min_answers=0)
