"""The conditional gold bound weighed by the stream: each reviewer's ``R`` and ``B`` from their own gold answers, each
answer held to its own reviewer's conditional bar.

The pooled :class:`~labelstream.core.calibration_reviewers.ConditionalGoldBound`
bounds how often answers agree with a right proposal (``R``) and take a wrong
one (``B``) *as the reviewers share the gold answers*; the bar needs them *as
they share the stream's answers*. When a busy reviewer who takes the model's
wrong proposals often (a high ``b``) has been served every gold item, the
pooled ``B`` drifts to the others' lower one and the bar falls under the
stream's agreement with a model at the target, the unsafe way — the flaw the
stream-share-weighted accuracy bound
(:mod:`~labelstream.core.calibration_weighted`) fixed for the accuracy bound.

This bound keeps a :class:`~labelstream.core.calibration_reviewers.ConditionalGoldBound`
per reviewer, fed only their own gold answers shown with a proposal, and the
policy holds each real answer of reviewer ``j`` to
``bar_j = max(B_j, m R_j + (1 - m) B_j)`` (:meth:`StreamWeightedConditionalGoldBound.answer_bar`).
Per answer this is the pooled bound's argument with ``j``'s own ``r_j`` and
``b_j``: a threshold of precision ``p <= m`` agrees with ``j``'s answers
``p r_j + (1 - p) b_j <= bar_j`` whenever ``R_j >= r_j`` and ``B_j >= b_j``,
whoever answers next and however gold is claimed.

**Simultaneous coverage.** As the weighted accuracy bound: the ``k``-th
reviewer to give a gold answer shown with a proposal gets ``alpha / ((k + 1)(k + 2))``,
split evenly between their ``R`` and ``B``; with probability at least
``1 - alpha`` every ``R_j`` and ``B_j`` is at least its truth at every moment.

**No bet** (a stake of 0, always sound) on an answer whose reviewer's bar is 1
(``B_j`` without a checkpoint: nothing measured) or at most 1/2 (the
calibrator's bets need more), nor on one whose agreement with a *right*
proposal on gold is, with 95 % confidence, under their bar (the high end of
its Wilson interval): even a perfect model, agreeing with them ``r_j`` of the
time, would lose on their answers. The choice reads gold counts fixed before
the answer: predictable.

>>> import random
>>> rng = random.Random(7)
>>> bound = StreamWeightedConditionalGoldBound(alpha=0.025)
>>> for i in range(800):  # a gold set half wrong proposals; ann takes 5 % of the wrong ones, bo 90 %
...     name, model_right = ("ann", "bo")[i % 2], rng.random() < 0.5
...     bound.learn(model_right, model_right or rng.random() < (0.05 if name == "ann" else 0.9), name)
>>> round(bound.bar_of(0.95, "ann"), 3), round(bound.bar_of(0.95, "bo"), 3), bound.bar_of(0.95, "cy")
(0.956, 0.998, 1.0)
>>> bound.answer_bar(0.95, "cy") is None  # no gold answer: nothing measured, no bet
True
>>> for i in range(100):  # the stream: bo answers 90 of 100 real answers, ann 10
...     bound.count_answer("ann" if i % 10 == 0 else "bo")
>>> round(bound.weighted(lambda name: bound.bar_of(0.95, name)), 3)  # the stream-share mean of the bars
0.994
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelstream.core.calibration_holds import epoch_alpha
from labelstream.core.calibration_reviewers import ConditionalGoldBound, check_bound_parameters
from labelstream.core.calibration_weighted import ANONYMOUS
from labelstream.core.reviewer_gold import ReviewerGold


class StreamWeightedConditionalGoldBound:
    """Per-reviewer conditional gold bounds (``R_j``, ``B_j``) from their own gold answers, each real answer held to
    its reviewer's bar (module docstring).

    Parameters
    ----------
    alpha
        Probability that some reviewer's ``R`` or ``B`` is ever below its truth (every reviewer together).
    first, first_wrong
        A reviewer's gold answers to a right, and to a wrong, proposal at ``R_j``'s and ``B_j``'s first checkpoints.
    """

    def __init__(self, alpha: float = 0.025, first: int = 50, first_wrong: int = 10) -> None:
        check_bound_parameters(alpha, first)
        check_bound_parameters(alpha, first_wrong)
        self.alpha = alpha
        self.first = first
        self.first_wrong = first_wrong
        self._bounds: dict[str, ConditionalGoldBound] = {}  # in the order of their first gold answer
        self._stream: dict[str, int] = {}  # reviewer -> real answers counted into the evidence

    @property
    def answers(self) -> int:
        """Gold answers learned (every reviewer; only those shown with a proposal)."""
        return sum(b.right_bound.answers + b.wrong_bound.answers for b in self._bounds.values())

    @property
    def reviewers(self) -> dict[str, tuple[float, float]]:
        """Reviewer -> (``R_j``, ``B_j``)."""
        return {name: (b.right_bound.upper(), b.wrong_bound.upper()) for name, b in self._bounds.items()}

    def learn(self, model_right: bool, agreed: bool, reviewer: str | None = None) -> None:
        """One answer of ``reviewer`` to a gold item shown with the model's proposal: whether the proposal was right
        and whether the answer agreed with it (``None``: :data:`~labelstream.core.calibration_weighted.ANONYMOUS`)."""
        name = reviewer or ANONYMOUS
        bound = self._bounds.get(name)
        if bound is None:
            alpha = epoch_alpha(self.alpha, len(self._bounds))
            bound = self._bounds[name] = ConditionalGoldBound(alpha, self.first, self.first_wrong)
        bound.learn(model_right, agreed)

    def bar_of(self, target_precision: float, reviewer: str | None) -> float:
        """Reviewer ``reviewer``'s conditional bar ``max(B_j, m R_j + (1 - m) B_j)`` (1 without their ``B_j``)."""
        bound = self._bounds.get(reviewer or ANONYMOUS)
        return 1.0 if bound is None else bound.bar(target_precision)

    def answer_bar(self, target_precision: float, reviewer: str | None) -> float | None:
        """The bar an answer of ``reviewer`` is bet against; ``None``: no bet (module docstring)."""
        bar = self.bar_of(target_precision, reviewer)
        if bar >= 1.0 or bar <= 0.5:
            return None
        right = self._bounds[reviewer or ANONYMOUS].right_bound
        interval = ReviewerGold(right.answers, right.right).interval
        return None if interval is not None and interval[1] < bar else bar

    def count_answer(self, reviewer: str | None) -> None:
        """A real answer of ``reviewer`` entered the evidence (its bet used :meth:`answer_bar`)."""
        name = reviewer or ANONYMOUS
        self._stream[name] = self._stream.get(name, 0) + 1

    def weighted(self, value_of: Callable[[str], float]) -> float:
        """``Σ w_j value_of(j)`` over the reviewers of the real answers counted (1 before any)."""
        total = sum(self._stream.values())
        if not total:
            return 1.0
        return sum(count * value_of(name) for name, count in self._stream.items()) / total

    def state(self) -> dict[str, Any]:
        """Plain data (travels in model snapshots)."""
        return {
            "conditional_weighted": True,
            "reviewers": {name: bound.state() for name, bound in self._bounds.items()},
            "stream": dict(self._stream),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt :meth:`state` (an empty mapping, or another gold bound's state, keeps a fresh estimator)."""
        if not state.get("conditional_weighted"):
            return
        self._bounds = {}
        for name, bound_state in state["reviewers"].items():  # in order: each keeps its share of alpha
            alpha = epoch_alpha(self.alpha, len(self._bounds))
            bound = self._bounds[str(name)] = ConditionalGoldBound(alpha, self.first, self.first_wrong)
            bound.load_state(bound_state)
        self._stream = {str(name): int(count) for name, count in state["stream"].items()}
