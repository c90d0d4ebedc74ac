"""Calibration check: does recent evidence still agree with the calibration?

The calibrator assumes that, within its window, a record's chance of being
right depends on its class and score only. A concept drift breaks that: the
model keeps its confidence but is now wrong more often. Each new answer is
compared with what the calibration expected for its class and score bin
(the bin's share of correct answers so far, shrunk by half an answer so that
it is never exactly 0 or 1). Over the latest ``window`` answers of a class
(at least ``min_answers``), with expectations ``p_i`` and ``k`` correct
answers, the chance of so few correct answers if the calibration still held
is at most the binomial tail ``P(Binomial(n, mean(p)) <= k)`` (Hoeffding,
1956: a sum of Bernoulli variables with unequal ``p_i`` is more concentrated
than the binomial with their mean, for ``k <= n * mean(p) - 1``). Below
``alpha`` (1e-4 per check by default) the evidence is stale and must be
forgotten.

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
        successes = sum(c for _, c in recent)
        mean = sum(p for p, _ in recent) / n
        return successes <= n * mean - 1 and float(bdtr(successes, n, mean)) < self.alpha
