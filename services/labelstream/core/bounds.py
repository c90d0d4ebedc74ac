"""Confidence bounds for a proportion, from plain or inverse-probability-weighted samples.

Reviewed records reach us with unequal inclusion probabilities (an audit is
drawn with probability 0.02, an uncertain record with 0.3, a cold-start
record with 1). Each answer is weighted by ``1 / inclusion_probability`` and
the proportion is the Hájek estimate ``sum(w * y) / sum(w)``. Its bound is
the Clopper–Pearson bound computed on Kish's effective sample size
``n_eff = sum(w) ** 2 / sum(w ** 2)`` with ``x_eff = estimate * n_eff``
successes, the choice of Korn & Graubard for complex samples [^1]. With
equal weights this is exactly Clopper–Pearson [^2]: conservative, valid at
any sample size, and sensible at an observed proportion of 1 (where the
normal-approximation bound is not).

>>> bounds = WeightedSums.from_samples([1, 1, 1, 0] * 25, [1.0] * 100).proportion(0.95)
>>> round(bounds.estimate, 3), round(bounds.lower, 3), round(bounds.upper, 3), bounds.effective_size
(0.75, 0.653, 0.831, 100.0)
>>> round(lower_bound(60, 60, alpha=0.05), 3)  # 60 out of 60: precision >= 0.951 at 95%
0.951

[^1]: Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with small
    expected number of positive counts estimated from survey data. *Survey Methodology* 24, 193-201.
[^2]: Clopper, C. J. and Pearson, E. S. (1934). The use of confidence or fiducial limits
    illustrated in the case of the binomial. *Biometrika* 26, 404-413.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import betaincinv


def lower_bound(successes: float, trials: float, alpha: float) -> float:
    """One-sided Clopper–Pearson lower bound at level ``1 - alpha`` (0 when nothing succeeded).

    ``successes`` and ``trials`` may be real numbers (effective counts).
    """
    if successes <= 0:
        return 0.0
    return float(betaincinv(successes, max(trials - successes, 0.0) + 1.0, alpha))


def upper_bound(successes: float, trials: float, alpha: float) -> float:
    """One-sided Clopper–Pearson upper bound at level ``1 - alpha`` (1 when nothing failed)."""
    return 1.0 - lower_bound(max(trials - successes, 0.0), trials, alpha)


@dataclass(frozen=True, slots=True)
class Proportion:
    """An estimated proportion with its two-sided confidence interval."""

    estimate: float
    lower: float
    upper: float
    effective_size: float

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "lower": self.lower, "upper": self.upper, "effective_size": self.effective_size}


@dataclass(slots=True)
class WeightedSums:
    """Running sums of weights ``w``, weighted successes ``w * y`` and squared weights."""

    weight: float = 0.0
    weighted_successes: float = 0.0
    squared_weight: float = 0.0

    @classmethod
    def from_samples(cls, outcomes: Sequence[bool | int], inclusion_probabilities: Sequence[float]) -> WeightedSums:
        sums = cls()
        for outcome, probability in zip(outcomes, inclusion_probabilities, strict=True):
            sums.add(bool(outcome), 1.0 / probability)
        return sums

    def add(self, success: bool, weight: float, sign: int = 1) -> None:
        """Add one weighted sample (``sign=-1`` removes it)."""
        self.weight += sign * weight
        self.weighted_successes += sign * weight * success
        self.squared_weight += sign * weight * weight

    def merge(self, other: WeightedSums) -> WeightedSums:
        return WeightedSums(
            self.weight + other.weight,
            self.weighted_successes + other.weighted_successes,
            self.squared_weight + other.squared_weight,
        )

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size (the count itself when all weights are equal)."""
        return self.weight**2 / self.squared_weight if self.squared_weight > 0 else 0.0

    def proportion(self, confidence_level: float) -> Proportion:
        """Hájek estimate with a two-sided Clopper–Pearson interval on the effective sample size."""
        if self.weight <= 0:
            return two_sided(float("nan"), 0.0, confidence_level)
        return two_sided(self.weighted_successes / self.weight, self.effective_size, confidence_level)


def two_sided(estimate: float, effective_size: float, confidence_level: float) -> Proportion:
    """A proportion with its two-sided Clopper–Pearson interval on an effective sample size."""
    if effective_size <= 0 or estimate != estimate:
        return Proportion(float("nan"), 0.0, 1.0, 0.0)
    estimate = min(max(estimate, 0.0), 1.0)
    alpha = (1.0 - confidence_level) / 2.0
    lower = lower_bound(estimate * effective_size, effective_size, alpha)
    upper = upper_bound(estimate * effective_size, effective_size, alpha)
    return Proportion(estimate, lower, upper, round(effective_size, 6))
