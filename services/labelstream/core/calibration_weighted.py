"""The gold accuracy bound weighed by the stream: each reviewer bounded from their own gold answers, each answer held
to its own reviewer's bar.

The pooled :class:`~labelstream.core.calibration_reviewers.GoldAccuracyBound`
bounds the accuracy of the reviewers *as they share the gold answers*; the
bar needs it *as they share the stream's answers* that enter the evidence.
The two differ whenever gold is claimed unevenly — above all when a busy,
good reviewer has been served every gold item (the review service never
serves one twice) and the gold answers lean to the others: the pooled bound
then falls under the stream's accuracy, the unsafe way (``docs/contract.md``,
section 5, "Several reviewers").

This bound keeps an anytime-valid upper bound ``U_j`` per reviewer, from
their own gold answers only (a
:class:`~labelstream.core.calibration_reviewers.GoldAccuracyBound` each: a
Clopper–Pearson bound at ``first``, ``2 first``, ... of *their* gold
answers, the least so far in force), and the policy holds each real answer
to the bar of *its* reviewer, ``h(m, U_j)``
(:meth:`StreamWeightedGoldBound.upper_of`, :func:`answer_bar`; no bet at all
on a reviewer whose gold accuracy is, with 95 % confidence, under that bar). ``h`` is affine in the accuracy,
so the bars of the answers in the evidence average exactly to
``h(m, Σ w_j U_j)``, ``w_j`` reviewer ``j``'s share of those answers — the
stream-share weighting, applied answer by answer, so it needs no assumption
on how records are shared out (:meth:`upper` reports that weighted accuracy).

**Simultaneous coverage.** Every bet is valid when every ``U_j`` is at least
``a_j`` whenever used. The ``k``-th reviewer to give a gold answer gets
``alpha / ((k + 1)(k + 2))`` (1/2, 1/6, 1/12, ... of ``alpha``, summing to
``alpha`` however many reviewers come; the order of first gold answers does
not depend on whether answers are right), spent over their own checkpoints
as the plain bound spends its own. So with probability at least
``1 - alpha`` every reviewer's bound holds at every moment (union bound).

**The safe direction.** A reviewer with no checkpoint yet (fewer than
``first`` gold answers, or none: a name never seen on a gold item) has
``U_j = 1``: their answers are held to the target's own bar, as if they
were never wrong. A reviewer who runs out of gold items keeps their last
bound, still valid (accuracy assumed constant over time). Holds need no
rule: a held reviewer gives no more stream answers, so their bound is no
longer used, and their gold answers never touch anyone else's bound.

>>> import random
>>> rng = random.Random(4)
>>> bound = StreamWeightedGoldBound(alpha=0.025, first=50)
>>> for i in range(600):  # ann right 99 % of the time, bo 60 %; bo gives most of the gold answers
...     name = "ann" if i % 4 == 0 else "bo"
...     bound.learn(rng.random() < (0.99 if name == "ann" else 0.6), name)
>>> round(bound.upper_of("ann"), 3), round(bound.upper_of("bo"), 3), bound.upper_of("cy")  # cy: no gold answers
(1.0, 0.621, 1.0)
>>> for i in range(100):  # the stream: ann answers 90 of 100 real answers, bo 10
...     bound.count_answer("ann" if i % 10 else "bo")
>>> round(bound.upper(), 3)  # 0.9 * 1.0 + 0.1 * 0.621: not the gold-weighted pool's bound (0.735)
0.962
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelstream.core.calibration import agreement_bar
from labelstream.core.calibration_holds import epoch_alpha
from labelstream.core.calibration_reviewers import GoldAccuracyBound, check_bound_parameters
from labelstream.core.reviewer_gold import ReviewerGold


def answer_bar(target_precision: float, accuracy: float, gold_answers: int, gold_right: int) -> float | None:
    """The agreement bar an answer of a reviewer bounded at ``accuracy`` is held to; ``None``: no bet on it (a stake
    of 0, always sound). No bet on a reviewer bounded at 1/2 or below (no better than chance: the bar needs better),
    nor on one whose gold accuracy is, with 95 % confidence, under the bar (the high end of its Wilson interval, as
    the review service's holds read it): even a perfect model's bets on their answers would lose on average. The
    gold counts are fixed before the answer, so the choice is predictable; the interval keeps a good reviewer's
    early slip (1 wrong of 10) from costing their bets.

    >>> answer_bar(0.95, 0.99, 200, 199), answer_bar(0.95, 1.0, 10, 9), answer_bar(0.95, 0.93, 400, 340)
    (0.9410000000000001, 0.95, None)
    >>> answer_bar(0.95, 1.0, 12, 8), answer_bar(0.95, 0.4, 50, 10)
    (None, None)
    """
    if accuracy <= 0.5:
        return None
    bar = agreement_bar(target_precision, accuracy)
    interval = ReviewerGold(gold_answers, gold_right).interval
    return None if interval is not None and interval[1] < bar else bar


ANONYMOUS = "anonymous"
"""The name of answers that carry none (the one simulated reviewer, a consensus without one)."""


class StreamWeightedGoldBound:
    """Per-reviewer anytime upper bounds on accuracy from their own gold answers, weighed by their share of the real
    answers (module docstring).

    Parameters
    ----------
    alpha
        Probability that some reviewer's bound is ever below their accuracy (every reviewer together).
    first
        A reviewer's gold answers at their first checkpoint; the next ones double it.
    """

    def __init__(self, alpha: float = 0.025, first: int = 50) -> None:
        check_bound_parameters(alpha, first)
        self.alpha = alpha
        self.first = first
        self._bounds: dict[str, GoldAccuracyBound] = {}  # in the order of their first gold answer
        self._stream: dict[str, int] = {}  # reviewer -> real answers counted into the evidence

    @property
    def answers(self) -> int:
        """Gold answers learned (every reviewer)."""
        return sum(bound.answers for bound in self._bounds.values())

    @property
    def right(self) -> int:
        """Gold answers that were right."""
        return sum(bound.right for bound in self._bounds.values())

    @property
    def reviewers(self) -> dict[str, tuple[int, int, float]]:
        """Reviewer -> (gold answers, right, their bound ``U_j``)."""
        return {name: (bound.answers, bound.right, bound.upper()) for name, bound in self._bounds.items()}

    def learn(self, correct: bool, reviewer: str | None = None) -> None:
        """One reviewer's answer to a gold item: whether it was the known label (``None``: :data:`ANONYMOUS`)."""
        name = reviewer or ANONYMOUS
        bound = self._bounds.get(name)
        if bound is None:
            bound = self._bounds[name] = GoldAccuracyBound(epoch_alpha(self.alpha, len(self._bounds)), self.first)
        bound.learn(correct)

    def upper_of(self, reviewer: str | None) -> float:
        """Reviewer ``reviewer``'s bound ``U_j`` (1 without a checkpoint yet: nothing assumed)."""
        bound = self._bounds.get(reviewer or ANONYMOUS)
        return 1.0 if bound is None else bound.upper()

    def counts_of(self, reviewer: str | None) -> tuple[int, int]:
        """Reviewer ``reviewer``'s gold answers and how many were right ((0, 0) without any)."""
        bound = self._bounds.get(reviewer or ANONYMOUS)
        return (0, 0) if bound is None else (bound.answers, bound.right)

    def count_answer(self, reviewer: str | None) -> None:
        """A real answer of ``reviewer`` entered the evidence (its bet used :meth:`upper_of`)."""
        name = reviewer or ANONYMOUS
        self._stream[name] = self._stream.get(name, 0) + 1

    def upper(self) -> float:
        """``Σ w_j U_j``, ``w_j`` each reviewer's share of the real answers counted (1 before any): the accuracy
        whose bar is the mean of the bars the answers were held to (with the bounds now)."""
        return self.weighted(self.upper_of)

    def weighted(self, accuracy_of: Callable[[str], float]) -> float:
        """``Σ w_j accuracy_of(j)`` over the reviewers of the real answers counted (1 before any)."""
        total = sum(self._stream.values())
        if not total:
            return 1.0
        return sum(count * accuracy_of(name) for name, count in self._stream.items()) / total

    def hold(self, reviewer: str) -> None:
        """A hold changes nothing here: the held reviewer answers no more, so their bound is no longer used."""

    def release(self, reviewer: str) -> None:
        """Nor does a release: the reviewer's answers are held to their own bound again (still valid)."""

    def state(self) -> dict[str, Any]:
        """Plain data (travels in model snapshots)."""
        return {
            "stream_weighted": True,
            "reviewers": {name: bound.state() for name, bound in self._bounds.items()},
            "stream": dict(self._stream),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt :meth:`state` (an empty mapping, or another gold bound's state, keeps a fresh estimator: a pooled
        bound's counts are not per reviewer)."""
        if not state.get("stream_weighted"):
            return
        self._bounds = {}
        for name, bound_state in state["reviewers"].items():  # in order: each keeps its share of alpha
            bound = self._bounds[str(name)] = GoldAccuracyBound(epoch_alpha(self.alpha, len(self._bounds)), self.first)
            bound.load_state(bound_state)
        self._stream = {str(name): int(count) for name, count in state["stream"].items()}
