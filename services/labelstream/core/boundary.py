"""Boundary reviews: the least confident share of would-be auto-labels goes to a human.

A record just above its class's threshold is where a concept drift shows
first (the model is still confident, no longer right) and where an answer
teaches the model most. :class:`BoundarySampler` picks the ``share`` of
auto-label candidates with the smallest margin above their threshold, with a
margin cut-off that tracks the ``share``-quantile of recent margins
(stochastic approximation: after each candidate the cut-off moves up by
``step * share`` if the candidate was above it, down by ``step * (1 - share)``
if below). Unlike audits these are not a uniform sample: their answers feed
the model, the calibration (with inclusion probability 1) and the drift
detectors, not the audit estimate.

>>> import random
>>> rng = random.Random(0)
>>> sampler = BoundarySampler(share=0.1, step=0.002)
>>> picked = [sampler.ask(margin=rng.random() * 0.5) for _ in range(5000)]  # the 10% quantile is 0.05
>>> round(sum(picked) / len(picked), 2), round(sampler.cutoff, 2)
(0.09, 0.05)
"""

from __future__ import annotations

from collections.abc import Sequence


class BoundarySampler:
    """Asks about the ``share`` of candidates with the smallest margin above their threshold."""

    def __init__(self, share: float = 0.05, step: float = 0.01) -> None:
        self.share = share
        self.step = step
        self.cutoff = 0.0

    def ask(self, margin: float) -> bool:
        """Whether this candidate (confidence minus its class's threshold) is in the least confident share."""
        if self.share <= 0:
            return False
        below = margin < self.cutoff
        self.cutoff += self.step * (self.share - below)
        self.cutoff = max(self.cutoff, 0.0)
        return below

    def ask_many(self, margins: Sequence[float]) -> list[bool]:
        """:meth:`ask` of each margin in turn, in one loop (a policy's batch): the same answers and cut-off.

        >>> one, many = BoundarySampler(0.2, step=0.05), BoundarySampler(0.2, step=0.05)
        >>> margins = [0.3, 0.01, 0.0, 0.2, 0.02, 0.5]
        >>> many.ask_many(margins) == [one.ask(m) for m in margins], many.cutoff == one.cutoff
        (True, True)
        """
        if self.share <= 0:
            return [False] * len(margins)
        share, step, cutoff = self.share, self.step, self.cutoff
        answers = []
        for margin in margins:
            below = margin < cutoff
            cutoff += step * (share - below)
            if cutoff < 0.0:  # max(cutoff, 0.0), without the call
                cutoff = 0.0
            answers.append(below)
        self.cutoff = cutoff
        return answers
