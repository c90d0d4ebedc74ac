"""How accurate the reviewers are at most: anytime-valid upper confidence bounds, from overlap or gold items.

The contract compares predictions with reviewers' answers. With reviewers
who are right a share ``a`` of the time, independently of the model, a
prediction of precision ``m`` agrees with them at most
``m a + (1 - m)(1 - a)`` of the time (:func:`~labelstream.core.calibration.agreement_bar`),
so an *upper* bound on ``a`` lowers the bar the tests need to beat, soundly.
This module measures that bound two ways:

* :class:`ReviewerAccuracyBound`, from **overlap items** (one record answered
  by two reviewers). If two reviewers answer the same item independently,
  each right with probability ``a``, they agree with probability
  ``A = a² + s`` where ``s >= 0`` is the chance that both are wrong *the same
  way* — so ``a <= sqrt(A)`` whatever the number of classes and however wrong
  answers are spread. An upper confidence bound on ``A`` is thus one on ``a``.
* :class:`GoldAccuracyBound`, from **gold items** (records whose true label
  is known, served among the others): each answer is right or wrong, a direct
  sample of ``a``, and an upper confidence bound on the share right is one
  on ``a``. Per extra answer it is *not* tighter than a pair when errors are
  rare and independent (a pair disagrees when *either* reviewer errs: about
  twice the errors seen, the square root halves them back, and the relative
  width of the bound shrinks with the errors seen); it measures accuracy
  against the truth, though, not against another reviewer, so reviewers who
  err together (which make the overlap bound conservative) do not weaken it.
* :class:`ConditionalGoldBound`, from gold items **shown with the model's
  proposal**: how often answers agree with a right proposal (``R``) and
  equal a wrong one (``B``). Its bar ``max(B, m R + (1 - m) B)`` needs no
  assumption on how reviewers' errors relate to the model, so it holds
  against reviewers who err where the model does or accept its proposal.

**Anytime validity.** Answers arrive one by one and the bound is used at every
moment, so it is computed only at fixed checkpoints, ``first``, ``2 first``,
``4 first``, ... observations, the ``k``-th a one-sided Clopper–Pearson bound
at level ``alpha / 2^(k+1)``: with probability at least ``1 - alpha`` *every*
checkpoint's bound holds, and the bound in force is the least of them so far
(it only moves down).

**Assumptions** (``docs/contract.md``, "Noisy reviewers"; the conditional
bound's are in its docstring): a reviewer's
accuracy does not depend on the item (nor on whether the model is right),
and answers are independent. Overlap: reviewers who err *together* (hard
items) make ``A`` larger, so the bound is then only more conservative. Gold:
the gold items must be at least as hard for the reviewers as stream items and
served indistinguishably — easier gold items only make the bound conservative,
harder ones make it unsound (it may fall below the accuracy on the stream).

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
>>> gold = GoldAccuracyBound(alpha=0.025, first=50)
>>> for _ in range(800):  # the same reviewers' answers to 800 gold items
...     gold.learn(rng.random() < 0.97)
>>> round(gold.upper(), 3), gold.answers, gold.right
(0.986, 800, 777)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from labelstream.core.bounds import upper_bound


def check_bound_parameters(alpha: float, first: int) -> None:
    """A checkpointed bound's error budget in (0, 1) and its first checkpoint at 1 observation or more."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if first < 1:
        raise ValueError(f"first must be at least 1, got {first}")


class CheckpointedAccuracyBound:
    """An anytime-valid upper confidence bound on reviewer accuracy from a stream of successes (module docstring).

    Subclasses say what a success is (:meth:`_observe`) and how a bound on the share of successes bounds the
    accuracy (:meth:`_accuracy_at_most`); ``_STATE_KEYS`` names the two counts in :meth:`state`.

    Parameters
    ----------
    alpha
        Probability that the bound is ever wrong (spent over the checkpoints ``alpha / 2, alpha / 4, ...``).
    first
        Observations at the first checkpoint; the next ones double it.
    """

    _STATE_KEYS: ClassVar[tuple[str, str]] = ("trials", "successes")

    def __init__(self, alpha: float = 0.025, first: int = 50) -> None:
        check_bound_parameters(alpha, first)
        self.alpha = alpha
        self.first = first
        self._trials = 0
        self._successes = 0
        self._bound = 1.0
        self._checkpoint = 0  # index k of the next checkpoint

    def _observe(self, success: bool) -> None:
        self._trials += 1
        self._successes += int(success)
        if self._trials == self.first * 2**self._checkpoint:
            alpha = self.alpha / 2 ** (self._checkpoint + 1)
            self._bound = min(self._bound, self._accuracy_at_most(upper_bound(self._successes, self._trials, alpha)))
            self._checkpoint += 1

    @staticmethod
    def _accuracy_at_most(share: float) -> float:
        """The accuracy bound implied by an upper bound on the share of successes."""
        return share

    def upper(self) -> float:
        """The least upper bound on reviewer accuracy so far (1 before the first checkpoint)."""
        return self._bound

    def state(self) -> dict[str, Any]:
        """Plain data (travels in model snapshots)."""
        trials, successes = self._STATE_KEYS
        return {trials: self._trials, successes: self._successes, "bound": self._bound, "checkpoint": self._checkpoint}

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt :meth:`state` (an empty mapping keeps a fresh estimator)."""
        if not state:
            return
        trials, successes = self._STATE_KEYS
        self._trials = int(state[trials])
        self._successes = int(state[successes])
        self._bound = float(state["bound"])
        self._checkpoint = int(state["checkpoint"])


class ReviewerAccuracyBound(CheckpointedAccuracyBound):
    """An anytime-valid upper confidence bound on reviewer accuracy, from pairs of answers to one item
    (``alpha``, ``first``: :class:`CheckpointedAccuracyBound`, counting pairs)."""

    _STATE_KEYS = ("pairs", "agreements")

    @property
    def pairs(self) -> int:
        """Pairs of answers learned."""
        return self._trials

    @property
    def agreements(self) -> int:
        """Pairs whose two answers agreed."""
        return self._successes

    def learn_pair(self, first_answer: str, second_answer: str) -> None:
        """Two reviewers' answers to the same item (any order)."""
        self._observe(first_answer == second_answer)

    @staticmethod
    def _accuracy_at_most(share: float) -> float:
        return math.sqrt(share)  # a <= sqrt(agreement)


class GoldAccuracyBound(CheckpointedAccuracyBound):
    """An anytime-valid upper confidence bound on reviewer accuracy, from answers to gold (known-answer) items
    (``alpha``, ``first``: :class:`CheckpointedAccuracyBound`, counting gold answers)."""

    _STATE_KEYS = ("answers", "right")

    @property
    def answers(self) -> int:
        """Gold answers learned."""
        return self._trials

    @property
    def right(self) -> int:
        """Gold answers that were right."""
        return self._successes

    def learn(self, correct: bool) -> None:
        """One reviewer's answer to a gold item: whether it was the known label."""
        self._observe(correct)


class ConditionalGoldBound:
    """Anytime-valid upper bounds on how often answers agree with the model when it is right (``R``) and when it
    is wrong (``B``), from gold items shown with the model's proposal; their agreement bar (:meth:`bar`).

    A threshold of precision ``p`` agrees with answers ``g = p r + (1 - p) b`` of the time, ``r`` the chance an
    answer agrees with a right prediction, ``b`` that it equals a wrong one. For ``p <= m``, ``g <= max(B, m R +
    (1 - m) B)`` whenever ``R >= r`` and ``B >= b`` (``g`` is linear in ``p``: at most its value at ``p = 0`` or
    ``p = m``), whatever the reviewers' errors: it also holds for reviewers who err where the model does or accept
    its proposal. ``R`` and ``B`` are :class:`GoldAccuracyBound` s of ``alpha / 2`` each (the gold items whose
    proposal was right, and those whose proposal was wrong), so both hold at every moment with probability at
    least ``1 - alpha``. Assumption (``docs/contract.md``): given whether the model is right, reviewers agree with
    it on the stream's records above any tested threshold at most as often as on gold items.

    ``first`` and ``first_wrong``: answers at ``R``'s and ``B``'s first checkpoints (:class:`CheckpointedAccuracyBound`).

    >>> import random
    >>> rng = random.Random(5)
    >>> bound = ConditionalGoldBound(alpha=0.025, first=50)
    >>> bound.bar(0.95)  # nothing measured: every prediction may agree
    1.0
    >>> for _ in range(2000):  # a model right 90 % of the time; reviewers accept 30 % of its wrong proposals
    ...     model_right = rng.random() < 0.9
    ...     bound.learn(model_right, agreed=model_right or rng.random() < 0.3)
    >>> round(bound.right_bound.upper(), 3), round(bound.wrong_bound.upper(), 3), round(bound.bar(0.95), 3)
    (1.0, 0.419, 0.971)
    """

    def __init__(self, alpha: float = 0.025, first: int = 50, first_wrong: int = 10) -> None:
        self.alpha = alpha
        self.right_bound = GoldAccuracyBound(alpha / 2, first)  # R: answers agreeing with a right proposal
        # B: answers equal to a wrong proposal; those are rare (the model is mostly right), so its first checkpoint
        # comes sooner: until then B is 1 and the bar 1 (nothing provable)
        self.wrong_bound = GoldAccuracyBound(alpha / 2, first_wrong)

    def learn(self, model_right: bool, agreed: bool) -> None:
        """One answer to a gold item shown with the model's proposal: whether the proposal was right (the known
        label) and whether the answer agreed with it."""
        (self.right_bound if model_right else self.wrong_bound).learn(agreed)

    def bar(self, target_precision: float) -> float:
        """The most a threshold of precision at most ``target_precision`` agrees with answers (both bounds holding)."""
        right, wrong = self.right_bound.upper(), self.wrong_bound.upper()
        return max(wrong, target_precision * right + (1.0 - target_precision) * wrong)

    def state(self) -> dict[str, Any]:
        """Plain data (travels in model snapshots)."""
        return {"conditional": True, "right": self.right_bound.state(), "wrong": self.wrong_bound.state()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt :meth:`state` (an empty mapping, or an accuracy bound's state, keeps a fresh estimator)."""
        if not state.get("conditional"):
            return
        self.right_bound.load_state(state["right"])
        self.wrong_bound.load_state(state["wrong"])
