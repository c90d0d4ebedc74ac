"""Cohen's kappa, Krippendorff's alpha and the agreement tracker: textbook values, independent
implementations (scikit-learn, the ``krippendorff`` package) and simulated reviewers at known error rates."""

import json
import math
import random

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelstream.core.agreement import AgreementTracker, cohen_kappa, krippendorff_alpha
from reviewer_simulation import ReviewerPanel

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the simplest case: two
# observers, ten units, binary values.
BINARY_A = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
BINARY_B = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]

# Same paper, the general case: four observers, twelve units, missing values (None). Nominal alpha = 0.743.
FOUR_OBSERVERS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def units(observers: dict[str, list]) -> list[dict[str, str]]:
    n_units = len(next(iter(observers.values())))
    return [
        {name: str(values[u]) for name, values in observers.items() if values[u] is not None} for u in range(n_units)
    ]


# -- Cohen's kappa ------------------------------------------------------------------------------


def test_kappa_of_the_textbook_two_by_two_table():
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15. p_o = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4, abs=1e-12)


def test_kappa_of_krippendorffs_binary_example_by_hand():
    # p_o = 6/10; A says 1 twice, B four times: p_e = 0.2*0.4 + 0.8*0.6 = 0.56; kappa = 0.04 / 0.44 = 1/11.
    pairs = [(str(a), str(b)) for a, b in zip(BINARY_A, BINARY_B, strict=True)]
    assert cohen_kappa(pairs) == pytest.approx(1 / 11, abs=1e-12)


def test_kappa_is_nan_where_undefined_and_negative_below_chance():
    assert math.isnan(cohen_kappa([]))
    assert math.isnan(cohen_kappa([("a", "a")] * 5))  # one label throughout: p_e = 1
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)
    assert cohen_kappa([("a", "a")] * 5 + [("a", "b")]) == pytest.approx(0.0)  # p_o = p_e


label_pairs = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=1, max_size=60)


def kappa_from_the_confusion_matrix(first: tuple[str, ...], second: tuple[str, ...]) -> float:
    """Cohen (1960) written as matrix algebra: an implementation independent of core/agreement.py's counting."""
    labels = sorted(set(first) | set(second))
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    np.add.at(table, ([index[a] for a in first], [index[b] for b in second]), 1)
    table /= table.sum()
    observed, expected = np.trace(table), table.sum(axis=1) @ table.sum(axis=0)
    return float((observed - expected) / (1 - expected))


@settings(max_examples=200, deadline=None)
@given(label_pairs)
def test_kappa_matches_the_matrix_formula_and_is_symmetric(pairs):
    ours = cohen_kappa(pairs)
    first, second = zip(*pairs, strict=True)
    if math.isnan(ours):
        assert len(set(first) | set(second)) == 1
        return
    assert ours == pytest.approx(kappa_from_the_confusion_matrix(first, second), abs=1e-9)
    assert cohen_kappa([(b, a) for a, b in pairs]) == pytest.approx(ours, abs=1e-12)


# -- Krippendorff's alpha -----------------------------------------------------------------------


def test_alpha_of_krippendorffs_binary_example():
    # The paper's value, 0.095; by hand 1 - 19 * 8 / (2 * 14 * 6) = 0.0952.
    alpha = krippendorff_alpha(units({"A": BINARY_A, "B": BINARY_B}))
    assert alpha == pytest.approx(1 - 19 * 8 / 168, abs=1e-12)
    assert round(alpha, 3) == 0.095


def test_alpha_of_krippendorffs_four_observer_example_with_missing_values():
    assert round(krippendorff_alpha(units(FOUR_OBSERVERS)), 3) == 0.743


def test_alpha_is_nan_where_undefined():
    assert math.isnan(krippendorff_alpha([]))
    assert math.isnan(krippendorff_alpha([{"a": "x"}, {"b": "y"}]))  # no item with two answers
    assert math.isnan(krippendorff_alpha([{"a": "x", "b": "x"}] * 3))  # one label throughout


reliability_data = st.lists(
    st.lists(st.one_of(st.none(), st.sampled_from("abc")), min_size=2, max_size=4), min_size=2, max_size=25
)


@settings(max_examples=200, deadline=None)
@given(reliability_data)
def test_alpha_matches_the_krippendorff_package(rows):
    # rows are units, columns reviewers; None is a missing answer.
    items = [{f"r{i}": value for i, value in enumerate(row) if value is not None} for row in rows]
    ours = krippendorff_alpha(items)
    width = max(len(row) for row in rows)
    matrix = np.full((width, len(rows)), np.nan)
    codes = {"a": 0.0, "b": 1.0, "c": 2.0}
    for u, row in enumerate(rows):
        for i, value in enumerate(row):
            if value is not None:
                matrix[i, u] = codes[value]
    pairable = [item for item in items if len(item) >= 2]
    used = {value for item in pairable for value in item.values()}
    if len(used) < 2:
        assert math.isnan(ours)
        return
    theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal", value_domain=[0.0, 1.0, 2.0])
    assert ours == pytest.approx(theirs, abs=1e-9)


# -- simulated reviewers at known error rates ---------------------------------------------------

# Kappa and alpha are compared with their exact expected values (reviewer_simulation.py derives
# them) within 4 standard errors: Cohen's (1960) large-sample error for kappa, the delta method's
# for alpha. A correct implementation fails such a check about once in 16,000 runs; a wrong formula
# (no chance correction, pairs counted once, marginals mixed up) misses by many standard errors.
TOLERANCE_IN_STANDARD_ERRORS = 4


@pytest.mark.parametrize(
    "panel",
    [
        ReviewerPanel(("cat", "dog", "fox"), (0.1, 0.2)),  # kappa = (0.73 - 1/3) / (2/3) = 0.595
        ReviewerPanel(("spam", "ham"), (0.05, 0.15), class_prior=(0.8, 0.2)),  # skewed classes: p_e = 0.6575
    ],
)
def test_kappa_of_a_simulated_pair_is_its_expected_value(panel):
    n = 4000
    expected, _ = panel.expected_kappa(0, 1)
    tolerance = TOLERANCE_IN_STANDARD_ERRORS * panel.kappa_standard_error(0, 1, n)
    measured = cohen_kappa([(answers["r0"], answers["r1"]) for _, answers in panel.items(random.Random(11), n)])
    assert measured == pytest.approx(expected, abs=tolerance)
    # and on average over seeds, where any bias would show: 20 runs shrink the error by sqrt(20)
    runs = [
        cohen_kappa([(answers["r0"], answers["r1"]) for _, answers in panel.items(random.Random(seed), 1000)])
        for seed in range(20)
    ]
    mean_tolerance = TOLERANCE_IN_STANDARD_ERRORS * panel.kappa_standard_error(0, 1, 1000) / math.sqrt(20)
    assert sum(runs) / len(runs) == pytest.approx(expected, abs=mean_tolerance)


def test_expected_kappa_formula_for_uniform_classes():
    # the closed form: p_o = (1 - e1)(1 - e2) + e1 e2 / (K - 1), p_e = 1 / K
    kappa, p_o = ReviewerPanel(("a", "b", "c"), (0.1, 0.2)).expected_kappa(0, 1)
    assert p_o == pytest.approx(0.9 * 0.8 + 0.1 * 0.2 / 2)
    assert kappa == pytest.approx((0.73 - 1 / 3) / (1 - 1 / 3))


def test_alpha_of_three_simulated_reviewers_is_its_expected_value():
    panel = ReviewerPanel(("cat", "dog", "fox", "owl"), (0.05, 0.2, 0.35))
    n = 3000
    expected, standard_error = panel.expected_alpha(n)
    measured = krippendorff_alpha([answers for _, answers in panel.items(random.Random(4), n)])
    assert measured == pytest.approx(expected, abs=TOLERANCE_IN_STANDARD_ERRORS * standard_error)


# -- the tracker --------------------------------------------------------------------------------


def test_tracker_measures_the_pairs_alpha_and_consensus_agreement_of_a_window():
    tracker = AgreementTracker(window=4, min_pair_items=2)
    tracker.add_item({"ana": "a", "ben": "a"}, consensus="a")
    tracker.add_item({"ana": "b", "ben": "b", "cem": "a"}, consensus="b")
    tracker.add_item({"ana": "a", "ben": "b", "cem": "b"}, consensus="b")
    tracker.add_item({"ana": "b", "ben": "b"}, consensus=None)  # no consolidated label: not in consensus agreement
    tracker.add_item({"ana": "a"}, consensus="a")  # one answer: no agreement to measure, ignored
    assert len(tracker) == 4
    pairs = tracker.pairwise_kappa()
    assert set(pairs) == {("ana", "ben"), ("ana", "cem"), ("ben", "cem")}
    assert pairs["ana", "ben"] == pytest.approx(cohen_kappa([("a", "a"), ("b", "b"), ("a", "b"), ("b", "b")]))
    assert pairs["ana", "cem"] == pytest.approx(-1.0)
    assert tracker.kappa() == pytest.approx(sum(pairs.values()) / 3)
    items = [
        {"ana": "a", "ben": "a"},
        {"ana": "b", "ben": "b", "cem": "a"},
        {"ana": "a", "ben": "b", "cem": "b"},
        {"ana": "b", "ben": "b"},
    ]
    assert tracker.alpha() == pytest.approx(krippendorff_alpha(items))
    assert tracker.consensus_agreement() == {"ana": pytest.approx(2 / 3), "ben": 1.0, "cem": 0.5}


def test_tracker_forgets_beyond_its_window_and_skips_pairs_with_few_shared_items():
    tracker = AgreementTracker(window=50, min_pair_items=10)
    for _ in range(100):
        tracker.add_item({"ana": "a", "ben": "b"}, consensus="a")  # old disagreement, forgotten
    for i in range(50):
        label = "ab"[i % 2]
        tracker.add_item({"ana": label, "ben": label}, consensus=label)
    assert len(tracker) == 50
    assert tracker.kappa() == pytest.approx(1.0)
    assert tracker.alpha() == pytest.approx(1.0)
    tracker.add_item({"ana": "a", "cem": "a"}, consensus="a")  # one shared item: too few for a kappa
    assert ("ana", "cem") not in tracker.pairwise_kappa()


def test_tracker_is_nan_before_any_overlap_item():
    tracker = AgreementTracker()
    assert math.isnan(tracker.kappa()) and math.isnan(tracker.alpha())
    assert tracker.consensus_agreement() == {}


def test_tracker_state_round_trips_through_json():
    rng = random.Random(2)
    panel = ReviewerPanel(("a", "b", "c"), (0.1, 0.3, 0.2))
    tracker = AgreementTracker(window=300)
    for truth, answers in panel.items(rng, 400):
        tracker.add_item(answers, consensus=truth)
    restored = AgreementTracker(window=300)
    restored.load_state(json.loads(json.dumps(tracker.state())))
    assert restored.summary() == tracker.summary()
    smaller = AgreementTracker(window=100)
    smaller.load_state(tracker.state())
    assert len(smaller) == 100
    with pytest.raises(ValueError, match="version"):
        restored.load_state({"version": 99, "items": []})
