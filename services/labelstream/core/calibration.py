"""Calibration: per predicted class, the lowest score threshold whose precision is proven.

Evidence is every reviewed record whose true label came back: the predicted
label, its score (the predicted label's probability), whether it was correct
and the probability that the routing sent it to review. Records were
reviewed with very unequal probabilities — 1 in the cold start, about 0.3 for
an uncertain record, 0.02 for an audit — so each answer stands for
``1 / inclusion_probability`` records of the stream.

**Estimate.** Precision above a threshold ``t`` is estimated by
inverse-probability weighting, post-stratified by score bin (bins of the
threshold grid): the weights estimate how many records of the stream fell in
each bin, ``N_b = sum(1 / inclusion_probability)``, and the bin's precision is
the plain share of correct answers among its ``n_b`` reviewed records; the
estimate is ``sum(N_b * p_b) / sum(N_b)`` over the bins above ``t``. Routing
draws depend on the score (and on time, budget and class), never on whether
the model is right, so within a bin reviewed records are a fair sample. This
matters: the plain Hájek estimate ``sum(w * y) / sum(w)`` mixes weights 1 and
50 in one sum, and one audit then weighs as much as fifty reviewed records —
its effective sample size collapses each time an audit answer arrives.
Stratified, an audit only sets how much its bin counts. ``estimator="hajek"``
keeps the plain estimate.

**Bound.** Clopper–Pearson on the effective sample size
``(sum N_b) ** 2 / sum(N_b ** 2 / n_b)`` (:mod:`labelstream.core.bounds`).

**Threshold.** Choosing it is a multiple-testing problem: trying a hundred
thresholds and keeping the lowest whose bound passes would pick a lucky one.
We scan a fixed grid from high to low and stop at the first failure, a
fixed-sequence test as in Learn-then-Test [^1]: the family-wise error stays at
``1 - confidence_level`` with no correction, whatever the number of grid
points. A test with little evidence fails by chance and would end the scan
early, so thresholds whose effective evidence is below ``min_evidence`` are
skipped (not tested) — a choice made from the weights alone, never from the
outcomes, so the test stays valid. By default ``min_evidence`` is the
evidence that proves the target despite two wrong answers (124 at 0.95 with
95% confidence). The threshold never goes below the lowest score that has
evidence.

**Forgetting.** Evidence lives in a window (``window`` answers and/or
``max_age_seconds``) that :meth:`PrecisionCalibrator.reset` empties on drift.
Stratifying assumes that, within the window, being right depends on class
and score only; a :class:`~labelstream.core.calibration_check.CalibrationCheck`
tests every answer against that assumption and :meth:`~PrecisionCalibrator.learn_one`
reports when recent answers contradict it (a drift the caller should react to).
Updates are incremental: an answer adds to (or leaves) one score bin, and a
class's threshold is rescanned from cumulative bin sums only when its
evidence changed — no sort, no pass over the evidence.

>>> import random
>>> rng = random.Random(1)
>>> calibrator = PrecisionCalibrator(target_precision=0.9, confidence_level=0.95)
>>> calibrator.threshold("cat") is None  # no evidence, no auto-accept
True
>>> for _ in range(2000):
...     score = rng.uniform(0.5, 1.0)
...     _ = calibrator.learn_one("cat", score, correct=rng.random() < score)
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
from typing import Any, Literal

import numpy as np

from labelstream.core.bounds import Proportion, lower_bound, two_sided
from labelstream.core.calibration_check import CalibrationCheck

# Thresholds tried, from high to low: every 0.01, then finer near 1 where scores crowd.
DEFAULT_GRID: tuple[float, ...] = (
    *(round(0.01 * i, 2) for i in range(0, 99)),
    0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999,
)

# Rows of a class's per-bin sums.
_COUNT, _WEIGHT, _SUCCESS, _WEIGHTED_SUCCESS, _SQUARED = range(5)

Estimator = Literal["stratified", "hajek"]

# The calibration check's expectation: the share of correct answers in the bin, widened to its
# neighbours until they hold this many answers.
_MIN_BIN_EVIDENCE = 10


def _from_top(row: np.ndarray) -> np.ndarray:
    """Sums over bins ``k`` and above, for every ``k``."""
    return np.flip(np.cumsum(np.flip(row)))


def cumulative_estimates(bins: np.ndarray, estimator: Estimator = "stratified") -> tuple[np.ndarray, np.ndarray]:
    """For each grid point: the precision estimate above it and its effective sample size."""
    count, weight = bins[_COUNT], bins[_WEIGHT]
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimator == "hajek":
            total, hits, squared = _from_top(weight), _from_top(bins[_WEIGHTED_SUCCESS]), _from_top(bins[_SQUARED])
        else:
            rate = np.where(count > 0, bins[_SUCCESS] / count, 0.0)
            total, hits = _from_top(weight), _from_top(weight * rate)
            squared = _from_top(np.where(count > 0, weight**2 / count, 0.0))
        estimate = np.where(total > 0, hits / total, 0.0)
        size = np.where(squared > 0, total**2 / squared, 0.0)
    return np.clip(estimate, 0.0, 1.0), size


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
        Effective sample size a threshold needs before it is tested (at least the evidence that
        proves the target with no wrong answer); ``None``: the evidence that proves it despite two
        wrong answers (:meth:`evidence_to_prove`).
    grid
        Candidate thresholds, increasing.
    estimator
        ``"stratified"`` (by score bin) or ``"hajek"`` (one weighted mean).
    check_window
        Answers per class the calibration check tests together (0: no check).
    """

    def __init__(
        self,
        target_precision: float = 0.95,
        confidence_level: float = 0.95,
        window: int = 2000,
        max_age_seconds: float | None = None,
        min_evidence: float | None = None,
        grid: Sequence[float] = DEFAULT_GRID,
        estimator: Estimator = "stratified",
        check_window: int = 50,
    ) -> None:
        self.target_precision = target_precision
        self.confidence_level = confidence_level
        self.window = window
        self.max_age_seconds = max_age_seconds
        self.min_evidence = min_evidence
        self.grid = tuple(grid)
        self.estimator = estimator
        self.check_window = check_window
        self.check = CalibrationCheck(check_window)
        self._grid = np.asarray(self.grid)
        # Below evidence_to_prove(0) even a flawless record fails: testing there would only end the scan.
        floor = self.evidence_to_prove(wrong_answers=0)
        self._min_size = max(min_evidence, floor) if min_evidence is not None else self.evidence_to_prove(2)
        self._reset()

    def _reset(self) -> None:
        self._evidence: deque[tuple[str, float, bool, float, float]] = deque()
        self._bins: dict[str, np.ndarray] = {}  # label -> (count, weight, weighted successes, squared weight) per bin
        self._thresholds: dict[str, float | None] = {}
        self._stale: set[str] = set()

    def reset(self) -> None:
        """Forget all evidence (after a drift): no class is auto-accepted until evidence rebuilds."""
        self._reset()
        self.check.reset()

    def __len__(self) -> int:
        return len(self._evidence)

    def learn_one(
        self, label: str, score: float, correct: bool, inclusion_probability: float = 1.0, timestamp: float = 0.0
    ) -> bool:
        """Add one answer: the predicted ``label`` and its ``score``, and whether it was right.

        Returns whether recent answers now contradict the calibration (:mod:`~labelstream.core.calibration_check`):
        the caller should treat that as a drift and :meth:`reset`.
        """
        if not 0.0 < inclusion_probability <= 1.0:
            raise ValueError(f"inclusion_probability must be in (0, 1], got {inclusion_probability}")
        item = (label, float(score), bool(correct), float(inclusion_probability), float(timestamp))
        expected = self._expected(label, item[1])
        contradicted = expected is not None and self.check.update(label, expected, item[2])
        self._evidence.append(item)
        self._update(item, +1)
        self._forget(timestamp)
        return contradicted

    def _expected(self, label: str, score: float) -> float | None:
        """The calibrated chance that a prediction of ``label`` at ``score`` is right (None: too little evidence)."""
        bins = self._bins.get(label)
        if bins is None:
            return None
        k, last = self._bin(score), len(self.grid) - 1
        for half_width in range(len(self.grid)):  # widen around the bin until it holds enough answers
            low, high = max(k - half_width, 0), min(k + half_width, last) + 1
            count = bins[_COUNT, low:high].sum()
            if count >= _MIN_BIN_EVIDENCE:
                return (bins[_SUCCESS, low:high].sum() + 0.5) / (count + 1.0)
            if low == 0 and high == last + 1:
                return None
        return None

    def _bin(self, score: float) -> int:
        return max(int(np.searchsorted(self._grid, score, side="right")) - 1, 0)

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
            bins = self._bins[label] = np.zeros((5, len(self._grid)))
        k = self._bin(score)
        weight = 1.0 / probability
        bins[:, k] += sign * np.array([1.0, weight, float(correct), weight * correct, weight * weight])
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
        estimates, sizes = cumulative_estimates(bins, self.estimator)
        alpha = 1.0 - self.confidence_level
        best = None
        for k in range(len(self.grid) - 1, -1, -1):
            size = float(sizes[k])
            if size < self._min_size:
                continue  # too little evidence to test: skipped, not failed
            estimate = float(estimates[k])
            if estimate < self.target_precision or lower_bound(estimate * size, size, alpha) < self.target_precision:
                break
            if bins[_COUNT, k] > 0:
                best = self.grid[k]
        return best

    def evidence_to_prove(self, wrong_answers: int = 0) -> float:
        """The least evidence whose bound reaches the target with this many wrong answers."""
        alpha = 1.0 - self.confidence_level
        size = math.ceil(math.log(alpha) / math.log(self.target_precision))  # no wrong answer
        while lower_bound(size - wrong_answers, size, alpha) < self.target_precision:
            size += 1
        return float(size)

    def precision_above(self, label: str, threshold: float) -> Proportion:
        """Estimate (and two-sided interval) of the precision of class ``label`` at scores >= ``threshold``."""
        bins = self._bins.get(label)
        if bins is None or not (self._grid >= threshold).any():
            return two_sided(float("nan"), 0.0, self.confidence_level)
        k = int(np.argmax(self._grid >= threshold))
        estimates, sizes = cumulative_estimates(bins, self.estimator)
        return two_sided(float(estimates[k]), float(sizes[k]), self.confidence_level)

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
