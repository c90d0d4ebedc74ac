"""Calibration: per predicted class, the lowest score threshold whose precision is proven.

Evidence is every reviewed record whose true label came back: the predicted
label, its score (the predicted label's probability), whether it was correct
and the probability that the routing sent it to review. Precision above a
threshold ``t`` is estimated by inverse-probability weighting (Hájek), and
bounded below by Clopper–Pearson on the effective sample size
(:mod:`labelstream.core.bounds`).

Choosing the threshold is a multiple-testing problem: trying a hundred
thresholds and keeping the lowest whose bound passes would pick a lucky one.
We scan a fixed grid from high to low and stop at the first failure, a
fixed-sequence test as in Learn-then-Test [^1]: the family-wise error stays
at ``1 - confidence_level`` with no correction, whatever the number of grid
points. Thresholds whose effective evidence is below ``min_evidence`` are
skipped (not tested) — a choice made from the weights alone, not from the
outcomes, so the test stays valid — and the threshold never goes below the
lowest score that has evidence.

Evidence lives in a window that forgets (``window`` records and/or
``max_age_seconds``) and that :meth:`PrecisionCalibrator.reset` empties
(on drift). Updates are incremental: evidence adds to or removes from one
score bin, and a class's threshold is recomputed from cumulative bin sums
only when its evidence changed.

>>> import random
>>> rng = random.Random(1)
>>> calibrator = PrecisionCalibrator(target_precision=0.9, confidence_level=0.95)
>>> calibrator.threshold("cat") is None  # no evidence, no auto-accept
True
>>> for _ in range(2000):
...     score = rng.uniform(0.5, 1.0)
...     calibrator.learn_one("cat", score, correct=rng.random() < score)
>>> calibrator.threshold("cat")  # true precision above 0.87 is 0.935; the oracle's threshold is 0.80
0.87
>>> round(calibrator.precision_above("cat", 0.87).estimate, 3)
0.924

[^1]: Angelopoulos, A. N., Bates, S., Candès, E. J., Jordan, M. I. and Lei, L. (2021).
    Learn then Test: calibrating predictive algorithms to achieve risk control. arXiv:2110.01052.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelstream.core.bounds import Proportion, WeightedSums, lower_bound

# Thresholds tried, from high to low: every 0.01, then finer near 1 where scores crowd.
DEFAULT_GRID: tuple[float, ...] = (
    *(round(0.01 * i, 2) for i in range(0, 99)),
    0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999,
)

_COUNT, _WEIGHT, _SUCCESS, _SQUARED = range(4)


class PrecisionCalibrator:
    """Per-class auto-accept thresholds with a precision lower bound at or above a target.

    Parameters
    ----------
    target_precision
        Auto-labels of a class must have precision at least this.
    confidence_level
        Confidence of the lower bound (and family-wise, of the threshold scan).
    window
        Evidence kept: the most recent ``window`` answers.
    max_age_seconds
        Evidence older than this (by its timestamp) is forgotten; ``None`` keeps it.
    min_evidence
        Effective sample size a threshold needs before it is tested at all (never less than
        :meth:`smallest_passing_size`).
    grid
        Candidate thresholds, increasing.
    """

    def __init__(
        self,
        target_precision: float = 0.95,
        confidence_level: float = 0.95,
        window: int = 2000,
        max_age_seconds: float | None = None,
        min_evidence: float = 30.0,
        grid: Sequence[float] = DEFAULT_GRID,
    ) -> None:
        self.target_precision = target_precision
        self.confidence_level = confidence_level
        self.window = window
        self.max_age_seconds = max_age_seconds
        self.min_evidence = min_evidence
        self.grid = tuple(grid)
        self._grid = np.asarray(self.grid)
        self._reset()

    def _reset(self) -> None:
        self._evidence: deque[tuple[str, float, bool, float, float]] = deque()
        self._bins: dict[str, np.ndarray] = {}  # label -> (count, weight, weighted successes, squared weight) per bin
        self._thresholds: dict[str, float | None] = {}
        self._stale: set[str] = set()

    def reset(self) -> None:
        """Forget all evidence (after a drift): no class is auto-accepted until evidence rebuilds."""
        self._reset()

    def __len__(self) -> int:
        return len(self._evidence)

    def learn_one(
        self, label: str, score: float, correct: bool, inclusion_probability: float = 1.0, timestamp: float = 0.0
    ) -> None:
        """Add one answer: the predicted ``label`` and its ``score``, and whether it was right."""
        if not 0.0 < inclusion_probability <= 1.0:
            raise ValueError(f"inclusion_probability must be in (0, 1], got {inclusion_probability}")
        item = (label, float(score), bool(correct), float(inclusion_probability), float(timestamp))
        self._evidence.append(item)
        self._update(item, +1)
        self._forget(timestamp)

    def _forget(self, now: float) -> None:
        while len(self._evidence) > self.window:
            self._update(self._evidence.popleft(), -1)
        if self.max_age_seconds is not None:
            while self._evidence and now - self._evidence[0][4] > self.max_age_seconds:
                self._update(self._evidence.popleft(), -1)

    def _update(self, item: tuple[str, float, bool, float, float], sign: int) -> None:
        label, score, correct, probability, _ = item
        bins = self._bins.get(label)
        if bins is None:
            bins = self._bins[label] = np.zeros((4, len(self._grid)))
        k = max(int(np.searchsorted(self._grid, score, side="right")) - 1, 0)
        weight = 1.0 / probability
        bins[:, k] += sign * np.array([1.0, weight, weight * correct, weight * weight])
        if bins[_COUNT, k] <= 0:  # no rounding residue in an empty bin
            bins[:, k] = 0.0
        self._stale.add(label)

    def threshold(self, label: str) -> float | None:
        """The lowest proven threshold for predicted class ``label``; ``None`` when none is proven."""
        if label in self._stale:
            self._thresholds[label] = self._scan(self._bins[label])
            self._stale.discard(label)
        return self._thresholds.get(label)

    def thresholds(self) -> dict[str, float | None]:
        """Every class with evidence -> its threshold."""
        return {label: self.threshold(label) for label in sorted(self._bins)}

    def _scan(self, bins: np.ndarray) -> float | None:
        """Fixed-sequence test from the highest threshold down; stop at the first failure."""
        count, weight, successes, squared = np.flip(np.cumsum(np.flip(bins, axis=1), axis=1), axis=1).tolist()
        alpha = 1.0 - self.confidence_level
        min_size = max(self.min_evidence, self.smallest_passing_size())
        best = None
        for k in range(len(self.grid) - 1, -1, -1):
            size = weight[k] ** 2 / squared[k] if squared[k] > 0 else 0.0
            if size < min_size:
                continue  # too little evidence to test: skipped, not failed
            estimate = successes[k] / weight[k]
            if estimate < self.target_precision or lower_bound(estimate * size, size, alpha) < self.target_precision:
                break
            if bins[_COUNT, k] > 0:
                best = self.grid[k]
        return best

    def smallest_passing_size(self) -> float:
        """Evidence below which even a flawless record cannot prove the target: ``log(alpha) / log(target)``.

        Testing a threshold with less would be a sure failure that stops the scan.
        """
        return math.log(1.0 - self.confidence_level) / math.log(self.target_precision)

    def precision_above(self, label: str, threshold: float) -> Proportion:
        """IPW estimate (and two-sided interval) of the precision of class ``label`` at scores >= ``threshold``."""
        sums = WeightedSums()
        bins = self._bins.get(label)
        if bins is not None:
            keep = self._grid >= threshold
            sums = WeightedSums(*(float(bins[row, keep].sum()) for row in (_WEIGHT, _SUCCESS, _SQUARED)))
        return sums.proportion(self.confidence_level)

    def state(self) -> dict[str, Any]:
        """The evidence window, as plain data (travels in model snapshots)."""
        return {"evidence": [list(item) for item in self._evidence]}

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the evidence with ``state`` (from :meth:`state`)."""
        self._reset()
        for label, score, correct, probability, timestamp in state.get("evidence", []):
            item = (str(label), float(score), bool(correct), float(probability), float(timestamp))
            self._evidence.append(item)
            self._update(item, +1)
        if self._evidence:
            self._forget(self._evidence[-1][4])
