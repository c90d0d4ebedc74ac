"""Calibration check: does recent evidence still agree with the calibration?

The calibrator assumes that, within a generation, a record's chance of being
right depends on its class and score only. A concept drift breaks that: the
model keeps its confidence but is now wrong more often. Each new answer is
compared with what the calibration expected for its class and score bin
(the bin's share of correct answers so far, shrunk by half an answer so that
it is never exactly 0 or 1). Over the latest ``window`` answers of a class
(at least ``min_answers``), with expectations ``p_i`` and ``k`` correct
answers, the chance of so few correct answers if the calibration still held
is at most the binomial tail ``P(Binomial(n, mean(p)) <= k)`` (Hoeffding,
1956: a sum of Bernoulli variables with unequal ``p_i`` is more concentrated
than the binomial with their mean, for ``k <= n * mean(p) - 1``). The
newest ``min_answers``, ``2 min_answers`` and ``window`` answers are each
tested at a third of ``alpha`` (1e-4 per check by default), so that a drift
is not diluted by the answers before it. Below that the evidence is stale:
the calibration starts a new generation. A false alarm costs coverage for a
while, never precision.

The check runs after every answer, so ``alpha`` sets how long a steady
stream goes between false alarms, not a per-stream error rate. At 1e-3 (the
earlier default) 6 of 40 steady runs of 5,000 answers (expectations 0.6 to
0.97, each met) raised one, and on SEA with 20,000 records and reviewers
300 records late and wrong 3 % of the time one fired at record 14,586 (seed
1): a reset on a stationary stream, 45.4 % auto instead of 52.0 %. At 1e-4:
0 of 40, while a fall from 0.9 to 0.6 is still caught after a median of 24
answers (14 at 1e-3; max 70) — on ``sea_drift`` the check fires 108 records
after the drift with an instant reviewer, as before, and 524 instead of 501
with the late, noisy one.

The test is one-sided and against the calibration, not against the past: a
model that improves (answers better than expected) never raises an alarm,
and the mix of reviewed records (audits, uncertain ones) does not matter,
since each answer is judged at its own score.

>>> import random
>>> rng = random.Random(5)
>>> check = CalibrationCheck(window=50)
>>> alarms = [check.update("cat", expected=0.95, correct=rng.random() < 0.95) for _ in range(1000)]
>>> any(alarms)
False
>>> alarms = [check.update("cat", expected=0.95, correct=rng.random() < 0.7) for _ in range(100)]
>>> alarms.index(True) < 50
True
"""

from __future__ import annotations

from collections import deque

from scipy.special import bdtr


class CalibrationCheck:
    """A sliding one-sided test of answers against their calibrated expectation, per class."""

    def __init__(self, window: int = 50, alpha: float = 1e-4, min_answers: int = 10) -> None:
        self.window = window
        self.alpha = alpha
        self.min_answers = min_answers
        self._recent: dict[str, deque[tuple[float, bool]]] = {}

    def reset(self) -> None:
        self._recent = {}

    def update(self, label: str, expected: float, correct: bool) -> bool:
        """Add one answer; whether the class's recent answers now contradict the calibration."""
        if self.window <= 0:
            return False
        recent = self._recent.setdefault(label, deque(maxlen=self.window))
        recent.append((expected, correct))
        n = len(recent)
        if n < self.min_answers:
            return False
        lengths = sorted({min(length, n) for length in (self.min_answers, 2 * self.min_answers, self.window)})
        alpha = self.alpha / len(lengths)  # each suffix tested at its share: the newest answers are not diluted
        items = list(recent)
        for length in lengths:
            tail = items[n - length :]
            successes = sum(c for _, c in tail)
            mean = sum(p for p, _ in tail) / length
            if successes <= length * mean - 1 and float(bdtr(successes, length, mean)) < alpha:
                return True
        return False
