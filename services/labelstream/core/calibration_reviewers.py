"""How accurate the reviewers are at most, measured on overlap items: an upper confidence bound.

The contract compares predictions with reviewers' answers. With reviewers
who are right a share ``a`` of the time, independently of the model, a
prediction of precision ``m`` agrees with them at most
``m a + (1 - m)(1 - a)`` of the time (:func:`~labelstream.core.calibration.agreement_bar`),
so an *upper* bound on ``a`` lowers the bar the tests need to beat, soundly.
This module measures that bound from **overlap items** (one record answered
by two reviewers).

If two reviewers answer the same item independently, each right with
probability ``a``, they agree with probability ``A = a² + s`` where
``s >= 0`` is the chance that both are wrong *the same way* — so
``a <= sqrt(A)`` whatever the number of classes and however wrong answers
are spread. An upper confidence bound on ``A`` is thus one on ``a``.

**Anytime validity.** Pairs arrive one by one and the bound is used at every
moment, so it is computed only at fixed checkpoints, ``first``, ``2 first``,
``4 first``, ... pairs, the ``k``-th a one-sided Clopper–Pearson bound at
level ``alpha / 2^(k+1)``: with probability at least ``1 - alpha`` *every*
checkpoint's bound holds, and the bound in force is the least of them so far
(it only moves down).

**Assumptions** (``docs/contract.md``, "Noisy reviewers"): a reviewer's
accuracy does not depend on the item (nor on whether the model is right),
and the two answers to an overlap item are independent. Reviewers who err
*together* (hard items) make ``A`` larger, so the bound is then only more
conservative.

>>> import random
>>> rng = random.Random(3)
>>> bound = ReviewerAccuracyBound(alpha=0.025, first=50)
>>> bound.upper()  # no checkpoint yet: nothing is assumed
1.0
>>> for _ in range(800):  # two reviewers, each wrong 3 % of the time
...     truth = rng.choice("ab")
...     answers = [truth if rng.random() < 0.97 else ("b" if truth == "a" else "a") for _ in range(2)]
...     bound.learn_pair(*answers)
>>> round(bound.upper(), 3), bound.pairs
(0.978, 800)
"""

from __future__ import annotations

import math
from typing import Any

from labelstream.core.bounds import upper_bound


class ReviewerAccuracyBound:
    """An anytime-valid upper confidence bound on reviewer accuracy, from pairs of answers to one item.

    Parameters
    ----------
    alpha
        Probability that the bound is ever wrong (spent over the checkpoints ``alpha / 2, alpha / 4, ...``).
    first
        Pairs at the first checkpoint; the next ones double it.
    """

    def __init__(self, alpha: float = 0.025, first: int = 50) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if first < 1:
            raise ValueError(f"first must be at least 1, got {first}")
        self.alpha = alpha
        self.first = first
        self.pairs = 0
        self.agreements = 0
        self._bound = 1.0
        self._checkpoint = 0  # index k of the next checkpoint

    def learn_pair(self, first_answer: str, second_answer: str) -> None:
        """Two reviewers' answers to the same item (any order)."""
        self.pairs += 1
        self.agreements += int(first_answer == second_answer)
        if self.pairs == self.first * 2**self._checkpoint:
            alpha = self.alpha / 2 ** (self._checkpoint + 1)
            agreement = upper_bound(self.agreements, self.pairs, alpha)
            self._bound = min(self._bound, math.sqrt(agreement))
            self._checkpoint += 1

    def upper(self) -> float:
        """The least upper bound on reviewer accuracy so far (1 before the first checkpoint)."""
        return self._bound

    def state(self) -> dict[str, Any]:
        """Plain data (travels in model snapshots)."""
        return {"pairs": self.pairs, "agreements": self.agreements, "bound": self._bound, "checkpoint": self._checkpoint}

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt :meth:`state` (an empty mapping keeps a fresh estimator)."""
        if not state:
            return
        self.pairs = int(state["pairs"])
        self.agreements = int(state["agreements"])
        self._bound = float(state["bound"])
        self._checkpoint = int(state["checkpoint"])
