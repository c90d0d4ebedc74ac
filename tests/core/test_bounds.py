"""Clopper–Pearson bounds, plain and on an effective sample size."""

import pytest

from labelstream.core.bounds import WeightedSums, lower_bound, two_sided, upper_bound


@pytest.mark.parametrize(("successes", "trials", "lower"), [(0, 10, 0.0), (10, 10, 0.7411344), (5, 10, 0.2224411)])
def test_lower_bound_matches_clopper_pearson_tables(successes, trials, lower):
    assert lower_bound(successes, trials, alpha=0.05) == pytest.approx(lower, abs=1e-6)


def test_upper_bound_mirrors_the_lower_bound():
    assert upper_bound(10, 10, 0.05) == 1.0
    assert upper_bound(3, 10, 0.05) == pytest.approx(1 - lower_bound(7, 10, 0.05))


def test_equal_weights_give_plain_clopper_pearson():
    sums = WeightedSums.from_samples([1] * 90 + [0] * 10, [0.25] * 100)
    weighted = sums.proportion(0.9)
    plain = two_sided(0.9, 100, 0.9)
    assert sums.effective_size == pytest.approx(100)
    assert (weighted.lower, weighted.upper) == pytest.approx((plain.lower, plain.upper))


def test_unequal_weights_shrink_the_effective_size():
    sums = WeightedSums.from_samples([1] * 100 + [1], [1.0] * 100 + [0.01])
    assert sums.effective_size < 5
    assert sums.proportion(0.95).lower < 0.6


def test_removing_a_sample_undoes_it():
    sums = WeightedSums()
    sums.add(True, 2.0)
    sums.add(False, 3.0)
    sums.add(False, 3.0, sign=-1)
    assert (sums.weight, sums.weighted_successes, sums.squared_weight) == (2.0, 2.0, 4.0)
