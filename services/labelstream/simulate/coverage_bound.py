"""What any valid test could auto-label on a short stream: a ceiling for the coverage table's short rows.

Two figures, both independent of how labelstream tests its thresholds:

- :func:`fewest_answers`: before its first auto-label, a threshold needs at least
  ``ceil(log(1 - confidence) / log(target))`` answers above it even if every one agrees (59 at 0.95 / 0.95).
  Under the null "precision exactly the target" a run of ``n`` agreements has probability ``target**n``, and
  a non-randomized test (fixed-size or sequential) that rejects after it has a false-rejection rate at least
  that, so it must be ``<= 1 - confidence``.
- :func:`ceiling`: for each predicted class and each fixed threshold (the oracle's runs: what the threshold
  policy auto-labels, relabels included, and reviews at or above it), the expected coverage of the **most
  powerful** valid test (the one-sided exact binomial test of "precision <= target", uniformly most powerful)
  given, in hindsight, the threshold and up to every answer the review budget allows, all in that class's
  region and all at once — then auto-labeling every other record of the region. Real methods (which
  choose the threshold from the data, test as answers arrive, share the budget between classes, and cannot
  auto-label the records they had reviewed) do worse, so it is an optimistic yardstick, not a theorem: a
  stream where it is below 0.6 of the oracle cannot reach 0.6 by any better test, only by more answers.

>>> fewest_answers(0.95, 0.95)
59
>>> round(binomial_power(59, 1.0, 0.95, 0.05), 3), round(binomial_power(59, 0.95, 0.95, 0.05), 3)
(1.0, 0.048)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from labelstream.simulate.report import RecordOutcome


def fewest_answers(target: float, confidence: float) -> int:
    """The fewest answers, all agreeing, after which a valid test may prove a threshold: the least ``n`` with
    ``target**n <= 1 - confidence``."""
    return math.ceil(math.log(1.0 - confidence) / math.log(target) - 1e-12)


def _tails(n: int, p: float) -> np.ndarray:
    """``P(X >= k)`` for ``k = 0 .. n`` and ``X ~ Binomial(n, p)``."""
    k = np.arange(n + 1)
    if p <= 0.0 or p >= 1.0:
        pmf = (k == (n if p >= 1.0 else 0)).astype(float)
    else:
        log_pmf = (
            math.lgamma(n + 1)
            - np.array([math.lgamma(j + 1) + math.lgamma(n - j + 1) for j in k])
            + k * math.log(p)
            + (n - k) * math.log1p(-p)
        )
        pmf = np.exp(log_pmf)
    return np.minimum(np.flip(np.cumsum(np.flip(pmf))), 1.0)


def _sizes(most: int) -> list[int]:
    """Answer counts to try: every one up to 200, then 1 % steps."""
    return sorted({*range(1, min(most, 200) + 1), *range(200, most + 1, max(most // 100, 1)), most} - {0})


def critical_agreements(n: int, target: float, alpha: float) -> int | None:
    """The least ``k`` with ``P(X >= k) <= alpha`` under precision ``target`` (``None``: no ``k <= n``)."""
    passing = np.flatnonzero(_tails(n, target) <= alpha)
    return int(passing[0]) if passing.size else None


def binomial_power(n: int, precision: float, target: float, alpha: float) -> float:
    """The chance that the exact one-sided binomial test at level ``alpha`` proves "precision > target" from ``n``
    answers whose true precision is ``precision`` (the most powerful valid test with ``n`` answers)."""
    k = critical_agreements(n, target, alpha)
    return 0.0 if k is None else float(_tails(n, precision)[k])


@dataclass(frozen=True)
class ClassCeiling:
    """The best hindsight test of one predicted class (or of all, pooled)."""

    label: str
    threshold: float | None  # the fixed threshold whose region it tests
    records: int  # records in the region
    precision: float  # against the truth
    answers: int  # answers spent in the region
    power: float
    expected_auto: float  # power x (records - answers)


def region_of(outcomes: Iterable[RecordOutcome], threshold: float, pooled: bool = False) -> dict[str, list[bool]]:
    """A fixed-threshold run's region per class: what it auto-labeled (relabels included: a later, better model
    may lift a deferred record over the threshold) and what it reviewed at or above the threshold; each record
    as whether its label is right. ``pooled``: one region for all classes."""
    regions: dict[str, list[bool]] = {}
    for o in outcomes:
        if o.auto:
            key, right = o.label, o.correct
        elif o.outcome == "review" and o.predicted_label is not None and o.confidence >= threshold:
            key, right = o.predicted_label, o.predicted_label == o.true_label
        else:
            continue
        regions.setdefault("all" if pooled else str(key), []).append(right)
    return regions


def best_test(
    label: str,
    threshold: float,
    region: Sequence[bool],
    allowed: int,
    target: float,
    confidence: float,
) -> ClassCeiling:
    """The most powerful valid test of ``region`` with at most ``allowed`` answers in it: the answer count that
    maximizes ``power x (records - answers)`` (answered records are reviewed, not auto-labeled)."""
    precision = sum(region) / len(region) if region else 0.0
    top = ClassCeiling(label, None, len(region), precision, 0, 0.0, 0.0)
    for answers in _sizes(min(len(region), allowed)):
        power = binomial_power(answers, precision, target, 1.0 - confidence)
        expected = power * (len(region) - answers)
        if expected > top.expected_auto:
            top = ClassCeiling(label, threshold, len(region), precision, answers, power, expected)
    return top


def ceiling(
    runs: Mapping[float, Sequence[RecordOutcome]],
    review_budget: float,
    target: float,
    confidence: float,
    pooled: bool = False,
) -> tuple[float, list[ClassCeiling]]:
    """The expected auto share of the best single valid test per class (module docstring), and each class's row.

    ``runs``: the outcomes of a fixed-threshold run (the ``threshold`` policy) per threshold; each class takes
    its best threshold. Each class may spend the whole budget (``review_budget x records``) in its region:
    optimistic. ``pooled``: one test for all classes together (``policy.guarantee = "overall"``).
    """
    total = max((len(outcomes) for outcomes in runs.values()), default=0)
    allowed = math.floor(review_budget * total)
    best: dict[str, ClassCeiling] = {}
    for threshold, outcomes in runs.items():
        for label, region in region_of(outcomes, threshold, pooled).items():
            candidate = best_test(label, threshold, region, allowed, target, confidence)
            if label not in best or candidate.expected_auto > best[label].expected_auto:
                best[label] = candidate
    rows = [best[label] for label in sorted(best)]
    return (sum(c.expected_auto for c in rows) / total if total else 0.0), rows
