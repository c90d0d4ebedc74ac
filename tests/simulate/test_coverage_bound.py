"""The ceiling of the short streams: the fewest answers, the exact test's level and power, the best test of a region."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from labelstream.simulate.coverage_bound import (
    best_test,
    binomial_power,
    ceiling,
    critical_agreements,
    fewest_answers,
    region_of,
)
from labelstream.simulate.report import RecordOutcome


def test_fewest_answers_is_the_first_run_of_agreements_rare_enough_under_the_null():
    for target, confidence in ((0.95, 0.95), (0.9, 0.95), (0.95, 0.99), (0.99, 0.9)):
        n = fewest_answers(target, confidence)
        assert target**n <= 1 - confidence < target ** (n - 1)
    assert fewest_answers(0.95, 0.95) == 59


def test_the_critical_value_is_the_exact_tests_against_scipy():
    for n in (59, 100, 374, 1000):
        k = critical_agreements(n, 0.95, 0.05)
        assert binom.sf(k - 1, n, 0.95) <= 0.05 < binom.sf(k - 2, n, 0.95)  # P(X >= k) <= α < P(X >= k - 1)
    assert critical_agreements(58, 0.95, 0.05) is None  # 58 answers prove nothing, even all agreeing


def test_power_at_the_target_is_at_most_alpha_and_matches_a_monte_carlo():
    rng = np.random.default_rng(7)
    for n, precision in ((200, 0.95), (200, 0.98), (120, 0.99)):
        power = binomial_power(n, precision, 0.95, 0.05)
        draws = rng.binomial(n, precision, size=40_000)
        simulated = float(np.mean(draws >= critical_agreements(n, 0.95, 0.05)))
        assert abs(power - simulated) < 0.01
        if precision == 0.95:
            assert power <= 0.05
    assert binomial_power(59, 1.0, 0.95, 0.05) == 1.0


def test_best_test_leaves_the_answered_records_out_of_the_auto_labels():
    perfect = [True] * 1000
    row = best_test("a", 0.8, perfect, allowed=300, target=0.95, confidence=0.95)
    assert (row.answers, row.power, row.expected_auto) == (59, 1.0, 941.0)  # 59 answers suffice, the rest auto
    at_target = [True] * 950 + [False] * 50
    assert best_test("a", 0.8, at_target, 300, 0.95, 0.95).expected_auto <= 0.05 * 1000  # no valid test beats α
    assert best_test("a", 0.8, [True] * 50, 300, 0.95, 0.95).expected_auto == 0.0  # too few records to prove


def _outcome(i, true, predicted, outcome, confidence, auto=False):
    return RecordOutcome(
        i,
        str(i),
        true,
        outcome,
        "x",
        predicted,
        confidence,
        label=predicted if auto else None,
        method="auto" if auto else None,
    )


def test_the_region_holds_auto_labels_and_reviews_above_the_threshold_and_each_class_takes_its_best_run():
    low = [_outcome(i, "a", "a", "label", 0.6, auto=True) for i in range(600)]
    low += [_outcome(600 + i, "b", "a", "label", 0.6, auto=True) for i in range(100)]  # class a at 6/7 in run 0.5
    low += [_outcome(700 + i, "b", "b", "review", 0.9) for i in range(300)]
    high = [_outcome(i, "a", "a", "label", 0.95, auto=True) for i in range(400)]
    high += [_outcome(400 + i, "b", "b", "review", 0.4) for i in range(600)]  # below 0.9: not in the region
    regions = region_of(low, 0.5)
    assert (len(regions["a"]), sum(regions["a"]), len(regions["b"])) == (700, 600, 300)
    assert "b" not in region_of(high, 0.9)
    share, rows = ceiling({0.5: low, 0.9: high}, review_budget=0.3, target=0.95, confidence=0.95)
    by_label = {row.label: row for row in rows}
    assert by_label["a"].threshold == 0.9 and by_label["a"].expected_auto == 400 - 59  # 0.5's region is bad
    assert by_label["b"].threshold == 0.5 and by_label["b"].expected_auto == 300 - 59
    assert share == (341 + 241) / 1000
    pooled_share, pooled = ceiling({0.5: low, 0.9: high}, 0.3, 0.95, 0.95, pooled=True)
    assert [row.label for row in pooled] == ["all"] and pooled_share < share  # pooled at 0.5: 900/1000 right
