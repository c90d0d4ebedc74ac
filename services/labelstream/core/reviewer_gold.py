"""A reviewer's gold figures and the review service's hold rule, as plain values.

The review service keeps each reviewer's final gold answers over the last
days (``labelstream.review.gold``) and *holds* a reviewer whose accuracy is,
with 95 % confidence, below a floor (``labelstream.review.holds``). The rule
itself takes plain numbers, so it lives here, where the in-process
simulation's reviewer pool (``labelstream.simulate.reviewer_pool``) applies
exactly the rule the live service applies.

>>> ReviewerGold(12, 4).interval, held_by(ReviewerGold(12, 4), floor=0.8, min_answers=10)
((0.138, 0.609), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959964


@dataclass(frozen=True, slots=True)
class ReviewerGold:
    """A reviewer's final gold answers, and the accuracy with its 95 % Wilson interval (``None`` before any)."""

    answers: int
    right: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.answers if self.answers else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """Wilson score interval: sound at a handful of answers, where right/n alone says little.

        >>> ReviewerGold(10, 9).interval
        (0.596, 0.982)
        """
        if not self.answers:
            return None
        n, p, z2 = self.answers, self.right / self.answers, Z95 * Z95
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def held_by(figures: ReviewerGold | None, floor: float, min_answers: int) -> bool:
    """Whether recent figures put a reviewer on hold: enough answers, the interval's high end below the floor
    (``review.gold_hold_below``, ``review.gold_hold_min_answers``; a floor of 0: holds off).

    >>> held_by(ReviewerGold(12, 4), 0.8, 10), held_by(ReviewerGold(12, 9), 0.8, 10), held_by(ReviewerGold(5, 0), 0.8, 10)
    (True, False, False)
    """
    if floor <= 0 or figures is None or figures.answers < min_answers:
        return False
    interval = figures.interval
    return interval is not None and interval[1] < floor
