"""Calibration: per predicted class, the lowest score threshold whose precision is proven, at every moment.

The guarantee (stated in full in ``docs/contract.md``): for each class, with
probability at least ``confidence_level``, no threshold whose precision stays
below ``target_precision`` is ever proven — over all thresholds tried, at
every moment, however often the thresholds are recomputed, across drifts and
model versions.

**Evidence.** Every reviewed record whose answer came back: its predicted
label, score (the predicted label's probability), whether the answer agreed,
and its :class:`Selection` — how likely the routing was to send *it* to
review, and how likely it was to send the least likely record of its class
above and below the threshold in force. An answer to a record routed in
another generation (before a reset) is not evidence of this one.

**Test martingales.** For each grid threshold ``t`` the hypothesis "the
precision of class predictions with score >= ``t`` is at most the target
``m``" is tested by betting against it (Waudby-Smith & Ramdas [^1]): each
answer with score >= ``t`` multiplies a wealth by ``1 + λ w (y - m)``, where
``y`` is 1 when the prediction agrees with the answer (``m`` becomes
:func:`agreement_bar` with imperfect reviewers) and ``w`` is the answer's *relative
weight*: the least review probability of any record at or above ``t`` when
it was routed, divided by its own (``w`` in (0, 1]). Rare answers (audits)
count fully, answers from an over-sampled region (uncertain records) count
in proportion to how over-sampled it was — the inverse-probability weight,
scaled so that it never exceeds 1. Under the hypothesis each factor has
expectation at most 1 whatever happened before, so the wealth is a
non-negative supermartingale and, by Ville's inequality, reaches ``1/α``
with probability at most ``α`` *ever*. The wealth is an average over a few
fixed bets ``λ = f / m`` (:data:`DEFAULT_BETS`), so no bet is tuned on the
outcomes, plus a share kept in cash. Nothing here assumes a fixed sample
size: a threshold can be re-tested after every answer.

**Which thresholds.** Thresholds are scanned from each start of
``scan_starts`` downwards and a scan stops at its first unproven threshold
(a fixed sequence: to prove a bad threshold a scan must first prove the
first bad one in its order). The error ``α`` is split evenly over the
starts (several starts, so that a class whose top scores are rare, or a dip
of precision, does not end every scan). The threshold is the lowest proven
by any scan, never below the lowest score that has evidence.

**Drift and generations.** Evidence is never forgotten bit by bit (a
sliding window would break the supermartingale). Drifts are the business of
the drift detectors and of the
:class:`~labelstream.core.calibration_check.CalibrationCheck`, which tests
every answer against the calibration and reports when recent answers
contradict it. :meth:`PrecisionCalibrator.reset` then opens a new
*generation*: every threshold's wealth above 1 is cut back to 1 (gains are
forgotten, so nothing stays proven; a deficit is kept) and answers routed in
an older generation are no longer bet on. Cutting wealth at a stopping time
keeps it a supermartingale, so one ``α`` covers every generation: no error
budget is spent per drift. Each wealth also keeps a share in cash (a bet of
0), so that a threshold that was bad before a drift is never more than
``log(len(bets) + 1)`` behind a fresh one after it.

**Estimate.** :meth:`PrecisionCalibrator.precision_above` reports an
inverse-probability-weighted estimate post-stratified by score bin, with a
pointwise Clopper–Pearson interval on its effective sample size (for
dashboards; it decides nothing).

>>> import random
>>> rng = random.Random(1)
>>> calibrator = PrecisionCalibrator(target_precision=0.9, confidence_level=0.95)
>>> calibrator.threshold("cat") is None  # no evidence, no auto-accept
True
>>> for _ in range(4000):
...     score = rng.uniform(0.5, 1.0)
...     _ = calibrator.learn_one("cat", score, correct=rng.random() < score)
>>> calibrator.threshold("cat")  # true precision above 0.89 is 0.945; the oracle's threshold is 0.80
0.89
>>> round(calibrator.precision_above("cat", 0.89).estimate, 3)
0.942

[^1]: Waudby-Smith, I. and Ramdas, A. (2023). Estimating means of bounded random variables by
    betting. *Journal of the Royal Statistical Society B* 86(1), 1-27.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelstream.core.bounds import Proportion, two_sided
from labelstream.core.calibration_check import CalibrationCheck

# Thresholds tried: every 0.01, then finer near 1 where scores crowd.
DEFAULT_GRID: tuple[float, ...] = (
    *(round(0.01 * i, 2) for i in range(0, 99)),
    0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999,
)
# Where the scans start (each spends an equal share of the error).
DEFAULT_STARTS: tuple[float, ...] = (0.99, 0.9, 0.7)
# The bets, as the share f of the stake lost on a wrong answer of relative weight 1 (λ = f / m).
# f is the Kelly bet against an alternative precision m + f (1 - m): 0.5 -> 0.975, 0.9 -> 0.995 at m = 0.95.
DEFAULT_BETS: tuple[float, ...] = (0.3, 0.5, 0.7, 0.85, 0.95)

# Rows of a class's per-bin sums.
_COUNT, _WEIGHT, _SUCCESS, _WEIGHTED_SUCCESS, _SQUARED = range(5)

# Answers per class the pause check tests together (its newest 10 and 20): a short memory, so that a false
# alarm lifts after a few answers that agree (with 50, like the reset check, SEA 20k with late, noisy reviewers
# lost 24 points of auto share on one seed).
PAUSE_WINDOW = 20

# The calibration check's expectation: the share of correct answers in the bin, widened to its
# neighbours until they hold this many answers.
_MIN_BIN_EVIDENCE = 10


def agreement_bar(target_precision: float, reviewer_accuracy: float = 1.0) -> float:
    """The most a prediction at ``target_precision`` agrees with reviewers right ``reviewer_accuracy`` of the time.

    A right prediction agrees when the reviewer is right; a wrong one at most when the reviewer is
    wrong (with the model's label), if being wrong does not depend on the model being wrong.

    >>> round(agreement_bar(0.95, 0.97), 4), agreement_bar(0.95)
    (0.923, 0.95)
    """
    return target_precision * reviewer_accuracy + (1.0 - target_precision) * (1.0 - reviewer_accuracy)


@dataclass(frozen=True, slots=True)
class Selection:
    """How a reviewed record came to be reviewed (the routing's sampling design for its class, then).

    ``probability`` is the record's total probability of review over every route;
    ``threshold`` the class's threshold in force (``None``: none); ``least_above`` and
    ``least_below`` the least review probability of any record of the class at or above
    it and below it (``None``: the same as ``probability``, a uniform design).

    >>> Selection(0.5, threshold=0.9, least_above=0.02, least_below=0.05).floor(np.array([0.8, 0.95]))
    array([0.02, 0.02])
    >>> Selection(0.25).floor(np.array([0.8, 0.95]))  # no threshold: everything reviewed alike
    array([0.25, 0.25])
    """

    probability: float = 1.0
    threshold: float | None = None
    least_above: float | None = None
    least_below: float | None = None

    def floor(self, grid: np.ndarray) -> np.ndarray:
        """For each grid threshold ``t``: the least review probability of a record with score >= ``t``."""
        below = self.probability if self.least_below is None else self.least_below
        if self.threshold is None:
            return np.full(grid.shape, below)
        above = self.probability if self.least_above is None else self.least_above
        return np.where(grid >= self.threshold, above, min(above, below))

    def relative_weights(self, grid: np.ndarray) -> np.ndarray:
        """Per grid threshold: the answer's weight relative to the rarest record, in [0, 1]."""
        return np.clip(self.floor(grid) / self.probability, 0.0, 1.0)

    def weight_below_and_above(self) -> tuple[float, float]:
        """The relative weight for thresholds below the threshold in force, and at or above it."""
        below = self.probability if self.least_below is None else self.least_below
        if self.threshold is None:
            weight = min(below / self.probability, 1.0)
            return weight, weight
        above = self.probability if self.least_above is None else self.least_above
        return min(min(above, below) / self.probability, 1.0), min(above / self.probability, 1.0)


def _log_mean_exp(log_values: np.ndarray) -> np.ndarray:
    """``log(mean(exp(row)))`` of each row, without overflow."""
    top = log_values.max(axis=1)
    return top + np.log(np.exp(log_values - top[:, None]).mean(axis=1))


def _from_top(row: np.ndarray) -> np.ndarray:
    """Sums over bins ``k`` and above, for every ``k``."""
    return np.flip(np.cumsum(np.flip(row)))


def cumulative_estimates(bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each grid point: the stratified precision estimate above it and its effective sample size."""
    count, weight = bins[_COUNT], bins[_WEIGHT]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(count > 0, bins[_SUCCESS] / count, 0.0)
        total, hits = _from_top(weight), _from_top(weight * rate)
        squared = _from_top(np.where(count > 0, weight**2 / count, 0.0))
        estimate = np.where(total > 0, hits / total, 0.0)
        size = np.where(squared > 0, total**2 / squared, 0.0)
    return np.clip(estimate, 0.0, 1.0), size


class PrecisionCalibrator:
    """Per-class auto-accept thresholds whose precision is proven by anytime-valid tests.

    Parameters
    ----------
    target_precision
        Auto-labels of a class must have precision at least this.
    confidence_level
        Probability that no bad threshold of a class is ever proven (all generations together).
    grid
        Candidate thresholds, increasing.
    scan_starts
        Grid thresholds the scans start from (downwards); the error is split evenly over them.
    bets
        The bets averaged in each wealth (with one more share kept in cash), as the share of the
        stake a wrong answer of relative weight 1 loses.
    check_window
        Answers per class the calibration check tests together (0: no check).
    headroom
        Each bet's log-wealth is capped this far above the bar (``None``: no cap), so that a
        threshold proven long ago is un-proven by a few wrong answers after a drift.
    pause_alpha
        A second calibration check at this (larger) level, over each class's newest
        :data:`PAUSE_WINDOW` answers: while it finds any class's recent answers contradicting the
        calibration, no class has a threshold in force (``None``: no pause) — the
        reset is for every class too, and a drift often shows first in the answers of another class
        than the one auto-labeled (reviewed uniformly while it has no threshold).
        It only withholds auto-labels — its records are routed as if nothing were proven — so any
        level is sound; the reset check (``check_window``, 1e-4) stays the one that forgets. It
        shortens the stretch after a drift in which late answers are already contradicting the
        calibration but not yet enough for a reset (docs/contract.md, "The worst window after a
        drift").
    reviewer_accuracy
        The share of right answers reviewers give *at most* (1: perfect reviewers, the default).
        Answers are compared with the reviewers' labels, not with the truth: a prediction at
        precision ``m`` agrees with a reviewer who is right with probability ``a``, independently of
        the model, at most ``m a + (1 - m)(1 - a)`` of the time (:func:`agreement_bar`). That, not
        ``m``, is the bar the tests hold the agreement to; with ``a = 1`` it is ``m``.
    """

    def __init__(
        self,
        target_precision: float = 0.95,
        confidence_level: float = 0.95,
        grid: Sequence[float] = DEFAULT_GRID,
        scan_starts: Sequence[float] = DEFAULT_STARTS,
        bets: Sequence[float] = DEFAULT_BETS,
        check_window: int = 50,
        reviewer_accuracy: float = 1.0,
        headroom: float | None = 1.5,
        pause_alpha: float | None = None,
    ) -> None:
        if not 0.5 < reviewer_accuracy <= 1.0:
            raise ValueError(f"reviewer_accuracy must be in (0.5, 1], got {reviewer_accuracy}")
        if not bets or not all(0.0 < f < 1.0 for f in bets):
            raise ValueError(f"bets must be shares in (0, 1), got {bets}")
        self.target_precision = target_precision
        self.confidence_level = confidence_level
        self.grid = tuple(grid)
        self.scan_starts = tuple(scan_starts)
        self.bets = tuple(bets)
        self.check_window = check_window
        self.reviewer_accuracy = reviewer_accuracy
        self.headroom = headroom
        self.bar = agreement_bar(target_precision, reviewer_accuracy)
        self.check = CalibrationCheck(check_window)
        self.pause_check = None if pause_alpha is None else CalibrationCheck(PAUSE_WINDOW, pause_alpha)
        self.generation = 0
        self._grid = np.asarray(self.grid)
        self._lambdas = np.asarray((0.0, *self.bets)) / self.bar  # column 0: cash
        self._starts = sorted({self._bin(s) for s in self.scan_starts}, reverse=True)
        self._clear()

    def _clear(self) -> None:
        self._bins: dict[str, np.ndarray] = {}  # label -> (count, weight, successes, weighted successes, squared weight) per bin
        self._log_wealth: dict[str, np.ndarray] = {}  # label -> log-wealth per (grid threshold, bet)
        self._thresholds: dict[str, float | None] = {}
        self._proven: dict[str, tuple[float, ...]] = {}  # label -> every grid threshold some scan proves
        self._stale: set[str] = set()
        self.paused: set[str] = set()  # classes whose recent answers the pause check finds contradicting
        self.answers = 0

    def set_reviewer_accuracy(self, reviewer_accuracy: float) -> None:
        """From the next answer on, hold the agreement to the bar of reviewers right at most this often.

        The bets of later answers are ``f / bar`` with the new bar (still predictable: fixed before
        the answer). Sound as long as ``reviewer_accuracy`` is an upper bound of the reviewers'
        accuracy at every moment it is in force, e.g. a
        :class:`~labelstream.core.calibration_reviewers.ReviewerAccuracyBound` (whose error then adds
        to this calibrator's).
        """
        if not 0.5 < reviewer_accuracy <= 1.0:
            raise ValueError(f"reviewer_accuracy must be in (0.5, 1], got {reviewer_accuracy}")
        self.set_agreement_bar(agreement_bar(self.target_precision, reviewer_accuracy))
        self.reviewer_accuracy = reviewer_accuracy

    def set_agreement_bar(self, bar: float) -> None:
        """From the next answer on, hold the agreement to ``bar`` itself (e.g.
        :meth:`~labelstream.core.calibration_reviewers.ConditionalGoldBound.bar`, which may exceed the target).

        Sound as long as ``bar`` is at least the agreement of a threshold at the target whenever it is in force.
        ``reviewer_accuracy`` becomes the accuracy whose :func:`agreement_bar` it is, at most 1.
        """
        if not 0.5 < bar <= 1.0:
            raise ValueError(f"bar must be in (0.5, 1], got {bar}")
        m = self.target_precision
        self.reviewer_accuracy = min(1.0, (bar - (1.0 - m)) / (2.0 * m - 1.0))
        self.bar = bar
        self._lambdas = np.asarray((0.0, *self.bets)) / self.bar

    def reset(self) -> None:
        """Open a new generation: wealth above 1 is cut back to 1, so no class is auto-accepted until evidence rebuilds."""
        log_wealth = {label: self.log_wealth(label) for label in self._log_wealth}
        self._clear()
        for label, total in log_wealth.items():  # rebalanced evenly over the bets, at most 1
            self._log_wealth[label] = np.repeat(np.minimum(total, 0.0)[:, None], len(self._lambdas), axis=1)
        self.check.reset()
        if self.pause_check is not None:
            self.pause_check.reset()
        self.generation += 1

    def __len__(self) -> int:
        """Answers learned in this generation."""
        return self.answers

    @property
    def proof_level(self) -> float:
        """Log-wealth a threshold needs to be proven: ``log(1 / α)`` with ``α`` split over the scan starts."""
        return math.log(len(self._starts) / (1.0 - self.confidence_level))

    def learn_one(
        self,
        label: str,
        score: float,
        correct: bool,
        selection: Selection | None = None,
        timestamp: float = 0.0,
        bar: float | None = None,
        bet: bool = True,
    ) -> bool:
        """Add one answer: the predicted ``label``, its ``score``, whether it was right, and how it was selected.

        ``selection`` defaults to a uniform design (every record as likely to be reviewed). ``bar``: this answer's
        own agreement bar (its reviewer's, fixed before the answer; sound as :meth:`set_agreement_bar`'s), else the
        bar in force. ``bet=False``: the answer is learned (bins, checks) but no threshold bets on it (a stake of 0,
        predictable, so always sound: for answers that could only lose, e.g. a reviewer less accurate than the bar).
        Returns whether recent answers now contradict the calibration (:mod:`~labelstream.core.calibration_check`):
        the caller should treat that as a drift and :meth:`reset`.
        """
        selection = selection or Selection()
        if not 0.0 < selection.probability <= 1.0:
            raise ValueError(f"review probability must be in (0, 1], got {selection.probability}")
        score, correct = float(score), bool(correct)
        expected = self._expected(label, score)
        contradicted = expected is not None and self.check.update(label, expected, correct)
        if self.pause_check is not None and expected is not None:
            if self.pause_check.update(label, expected, correct):
                self.paused.add(label)
            else:
                self.paused.discard(label)
        k = self._bin(score)
        self._update_bins(label, k, correct, selection.probability)
        if bet:
            self._bet(label, k, correct, selection, bar)
        self.answers += 1
        return contradicted

    def _bet(self, label: str, k: int, correct: bool, selection: Selection, bar: float | None = None) -> None:
        """Every threshold at or below the score bets on this answer (against ``bar``, else the bar in force)."""
        log_wealth = self._log_wealth.get(label)
        if log_wealth is None:
            log_wealth = self._log_wealth[label] = np.zeros((len(self.grid), len(self._lambdas)))
        below, above = selection.weight_below_and_above()
        lambdas = self._lambdas
        if bar is None:
            bar = self.bar
        elif bar != self.bar:
            if not 0.5 < bar <= 1.0:
                raise ValueError(f"bar must be in (0.5, 1], got {bar}")
            lambdas = np.asarray((0.0, *self.bets)) / bar
        excess = (1.0 if correct else 0.0) - bar
        split = k + 1 if selection.threshold is None else min(bisect.bisect_left(self.grid, selection.threshold), k + 1)
        if split > 0:
            log_wealth[:split] += np.log1p(below * excess * lambdas)
        if split < k + 1:
            log_wealth[split : k + 1] += np.log1p(above * excess * lambdas)
        if self.headroom is not None:  # bank at most this much above the bar: a drift un-proves within a few answers
            np.minimum(log_wealth[: k + 1], self.proof_level + self.headroom, out=log_wealth[: k + 1])

    def _expected(self, label: str, score: float) -> float | None:
        """The calibrated chance that a prediction of ``label`` at ``score`` is right (None: too little evidence).

        The share of right answers in the score's bin, widened symmetrically to its neighbours until
        the window holds enough answers.
        """
        bins = self._bins.get(label)
        if bins is None or self.check.window <= 0:
            return None
        counts = np.concatenate(([0.0], np.cumsum(bins[_COUNT])))
        if counts[-1] < _MIN_BIN_EVIDENCE:
            return None
        k, size = self._bin(score), len(self.grid)
        half = np.arange(size)
        low, high = np.maximum(k - half, 0), np.minimum(k + half, size - 1) + 1
        enough = counts[high] - counts[low] >= _MIN_BIN_EVIDENCE
        h = int(np.argmax(enough))
        successes = np.concatenate(([0.0], np.cumsum(bins[_SUCCESS])))
        count = counts[high[h]] - counts[low[h]]
        return (successes[high[h]] - successes[low[h]] + 0.5) / (count + 1.0)

    def _bin(self, score: float) -> int:
        return max(bisect.bisect_right(self.grid, score) - 1, 0)

    def _update_bins(self, label: str, k: int, correct: bool, probability: float) -> None:
        bins = self._bins.get(label)
        if bins is None:
            bins = self._bins[label] = np.zeros((5, len(self._grid)))
        weight = 1.0 / probability
        bins[_COUNT, k] += 1.0
        bins[_WEIGHT, k] += weight
        bins[_SQUARED, k] += weight * weight
        if correct:
            bins[_SUCCESS, k] += 1.0
            bins[_WEIGHTED_SUCCESS, k] += weight
        self._stale.add(label)

    def log_wealth(self, label: str) -> np.ndarray:
        """Per grid threshold: the log of the wealth bet against its hypothesis (0 before any answer)."""
        log_wealth = self._log_wealth.get(label)
        if log_wealth is None:
            return np.zeros(len(self.grid))
        return _log_mean_exp(log_wealth)

    def threshold(self, label: str) -> float | None:
        """The lowest proven threshold for predicted class ``label``; ``None`` when none is proven (or paused)."""
        if self.paused:
            return None
        if label in self._stale:
            self._thresholds[label], self._proven[label] = self._scan(label)
            self._stale.discard(label)
        return self._thresholds.get(label)

    def proven(self, label: str) -> tuple[float, ...]:
        """Every grid threshold of class ``label`` that some scan proves (with evidence), increasing; () when paused."""
        if self.threshold(label) is None:
            return ()
        return self._proven.get(label, ())

    def thresholds(self) -> dict[str, float | None]:
        """Every class with evidence -> its threshold."""
        return {label: self.threshold(label) for label in sorted(self._bins)}

    def _scan(self, label: str) -> tuple[float | None, tuple[float, ...]]:
        """Fixed-sequence scans from each start downwards, each stopping at its first unproven threshold: the lowest
        threshold proven with evidence, and every threshold proven (from that lowest one up)."""
        unproven = np.flatnonzero(self.log_wealth(label) < self.proof_level)
        with_evidence = self._bins[label][_COUNT] > 0
        best = None
        proven = np.zeros(len(self.grid), dtype=bool)
        for start in self._starts:
            first_failure = unproven[unproven <= start]
            low = int(first_failure[-1]) + 1 if first_failure.size else 0  # proven: low .. start
            candidates = np.flatnonzero(with_evidence[low : start + 1])
            if candidates.size:
                proven[low + int(candidates[0]) : start + 1] = True
                if best is None or low + int(candidates[0]) < best:
                    best = low + int(candidates[0])
        if best is None:
            return None, ()
        return self.grid[best], tuple(self.grid[i] for i in np.flatnonzero(proven))

    def answers_to_prove(self, precision: float = 1.0, limit: int = 100_000) -> int | None:
        """Answers (uniform design, one score) a fresh threshold needs before it is proven, at ``precision``.

        The answers agree with the model a share ``precision`` of the time, the disagreements spread
        evenly (one every ``1 / (1 - precision)`` answers, the first at the end of the first such
        stretch): what the proof costs when the threshold's precision is that, without the luck of a
        random order. ``None`` if ``limit`` answers do not suffice.

        >>> calibrator = PrecisionCalibrator()
        >>> [calibrator.answers_to_prove(p) for p in (1.0, 0.99, 0.98, 0.97, 0.95)]
        [107, 157, 383, 1062, None]
        """
        log_wealth = np.zeros((1, len(self._lambdas)))
        wrong_rate = 1.0 - precision
        right, wrong = np.log1p(self._lambdas * (1.0 - self.bar)), np.log1p(-self._lambdas * self.bar)
        for n in range(1, limit + 1):
            disagrees = math.floor(n * wrong_rate + 1e-9) > math.floor((n - 1) * wrong_rate + 1e-9)
            log_wealth += wrong if disagrees else right
            if self.headroom is not None:
                np.minimum(log_wealth, self.proof_level + self.headroom, out=log_wealth)
            if _log_mean_exp(log_wealth)[0] >= self.proof_level:
                return n
        return None

    def precision_above(self, label: str, threshold: float) -> Proportion:
        """Estimate (and pointwise two-sided interval) of the precision of class ``label`` at scores >= ``threshold``."""
        bins = self._bins.get(label)
        if bins is None or not (self._grid >= threshold).any():
            return two_sided(float("nan"), 0.0, self.confidence_level)
        k = int(np.argmax(self._grid >= threshold))
        estimates, sizes = cumulative_estimates(bins)
        return two_sided(float(estimates[k]), float(sizes[k]), self.confidence_level)

    def state(self) -> dict[str, Any]:
        """The generation's evidence, as plain data (travels in model snapshots)."""
        return {
            "format": 2,
            "generation": self.generation,
            "answers": self.answers,
            "paused": sorted(self.paused),
            "classes": {
                label: {"bins": self._bins.get(label, np.zeros((5, len(self.grid)))).tolist(),
                        "log_wealth": wealth.tolist()}
                for label, wealth in self._log_wealth.items()
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the evidence with ``state`` (from :meth:`state`).

        Evidence in an older format, or made with another grid or other bets, is not adopted (no class
        auto-accepted until evidence rebuilds); the generation is adopted in any case.
        """
        self._clear()
        if state.get("format") != 2:
            return
        self.generation = int(state["generation"])
        shape = (len(self.grid), len(self._lambdas))
        classes = {
            label: (np.asarray(data["bins"], dtype=float), np.asarray(data["log_wealth"], dtype=float))
            for label, data in state["classes"].items()
        }
        if any(bins.shape != (5, len(self.grid)) or wealth.shape != shape for bins, wealth in classes.values()):
            return
        self.answers = int(state.get("answers", 0))
        self.paused = set(state.get("paused", ()))
        for label, (bins, log_wealth) in classes.items():
            self._log_wealth[label] = log_wealth
            if bins[_COUNT].any():
                self._bins[label] = bins
                self._stale.add(label)
