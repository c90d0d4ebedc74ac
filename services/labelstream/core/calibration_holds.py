"""The gold accuracy bound with reviewer holds: a held reviewer's gold answers leave the bound, soundly.

The review service *holds* a reviewer whose recent gold accuracy is proven
below a floor (``review.gold_hold_below``): their claims are refused, so they
stop answering the stream's records. The pooled
:class:`~labelstream.core.calibration_reviewers.GoldAccuracyBound` would keep
counting their gold answers, the worst in the pool, and fall below the
accuracy of the reviewers who still answer: a bar too low, unsound. This
bound keeps the gold counts per reviewer and, told of a hold
(:meth:`HeldGoldAccuracyBound.hold`), drops that reviewer's answers. Three
rules keep it an upper bound on the accuracy of the reviewers answering, at
every moment, with probability at least ``1 - alpha`` (``docs/contract.md``,
section 5, "Holds"):

1. **A hold that drops answers opens an epoch.** The bound in force is the
   least of the checkpoints *of the current epoch*: the checkpoints before
   bounded a pool that held the reviewer now gone. Epoch ``e`` gets
   ``alpha / ((e + 1)(e + 2))`` (1/2, 1/6, 1/12, ... of ``alpha``, summing to
   ``alpha`` however many holds come), spent over its checkpoints as the plain
   bound spends its own: the ``k``-th at ``alpha_e / 2^(k+1)``. Its first
   checkpoint is at once if the answers left number ``first`` or more (else at
   ``first``), the next ones at twice as many each time.
2. **A release brings no answers back.** A reviewer's answers before a hold
   are the ones that held them (a sample picked for being bad): counted again
   they would pull the bound down, the unsafe way. Their answers count again
   from the release on (fresh draws), so a release changes nothing counted
   and opens no epoch; neither does a hold of a reviewer with no answer
   counted.
3. **Answers of a held reviewer are not counted** (the item they held when
   the hold began may still be answered).

>>> import random
>>> rng = random.Random(7)
>>> bound = HeldGoldAccuracyBound(alpha=0.025, first=50)
>>> for i in range(400):  # ann and cy right 98 % of the time, bo 60 %
...     name = ("ann", "bo", "cy")[i % 3]
...     bound.learn(rng.random() < (0.6 if name == "bo" else 0.98), name)
>>> round(bound.upper(), 3), bound.answers, bound.epoch  # the pool is right 85 % of the time
(0.924, 400, 0)
>>> bound.hold("bo")  # bo is held: his 133 answers leave, an epoch opens (ann and cy: 98 %)
>>> round(bound.upper(), 3), bound.answers, bound.epoch
(0.997, 267, 1)
>>> bound.release("bo")  # back: nothing of before comes back, his next answers count
>>> bound.learn(False, "bo"); bound.answers
268
"""

from __future__ import annotations

from typing import Any

from labelstream.core.bounds import upper_bound
from labelstream.core.calibration_reviewers import check_bound_parameters


def epoch_alpha(alpha: float, epoch: int) -> float:
    """The error epoch ``epoch`` may spend: ``alpha / ((epoch + 1)(epoch + 2))``, summing to ``alpha`` over all.

    >>> [round(epoch_alpha(1.0, e), 4) for e in range(4)], round(sum(epoch_alpha(1.0, e) for e in range(10**5)), 4)
    ([0.5, 0.1667, 0.0833, 0.05], 1.0)
    """
    return alpha / ((epoch + 1) * (epoch + 2))


class HeldGoldAccuracyBound:
    """An anytime-valid upper bound on the accuracy of the reviewers not held, from their gold answers (module
    docstring). Same verbs as :class:`~labelstream.core.calibration_reviewers.GoldAccuracyBound`, plus the
    reviewer's name on :meth:`learn`, and :meth:`hold` / :meth:`release`.

    Parameters
    ----------
    alpha
        Probability that the bound is ever below the accuracy of the reviewers it counts (every epoch together).
    first
        Answers at an epoch's first checkpoint (or as many as are counted when it opens, if more).
    """

    def __init__(self, alpha: float = 0.025, first: int = 50) -> None:
        check_bound_parameters(alpha, first)
        self.alpha = alpha
        self.first = first
        self._counts: dict[str, list[int]] = {}  # reviewer -> [answers, right] counted (since start or release)
        self._held: set[str] = set()
        self._epoch = 0
        self._answers = 0  # counted, every reviewer not held
        self._right = 0
        self._bound = 1.0  # the least checkpoint of this epoch
        self._base = first  # answers at this epoch's first checkpoint
        self._checkpoint = 0  # index k of this epoch's next checkpoint

    @property
    def answers(self) -> int:
        """Gold answers counted (reviewers not held; each since the start or their last release)."""
        return self._answers

    @property
    def right(self) -> int:
        """Counted gold answers that were right."""
        return self._right

    @property
    def epoch(self) -> int:
        """Holds that dropped answers so far (each opened an epoch)."""
        return self._epoch

    @property
    def held(self) -> frozenset[str]:
        """The reviewers held now."""
        return frozenset(self._held)

    def learn(self, correct: bool, reviewer: str = "anonymous") -> None:
        """One reviewer's answer to a gold item: whether it was the known label (a held reviewer's: not counted)."""
        if reviewer in self._held:
            return
        counts = self._counts.setdefault(reviewer, [0, 0])
        counts[0] += 1
        counts[1] += int(correct)
        self._answers += 1
        self._right += int(correct)
        if self._answers == self._base * 2**self._checkpoint:
            self._check()

    def _check(self) -> None:
        """This epoch's next checkpoint on the answers counted now."""
        alpha = epoch_alpha(self.alpha, self._epoch) / 2 ** (self._checkpoint + 1)
        self._bound = min(self._bound, upper_bound(self._right, self._answers, alpha))
        self._checkpoint += 1

    def hold(self, reviewer: str) -> None:
        """The review service holds ``reviewer``: their answers leave the bound (an epoch opens if any were counted)."""
        if reviewer in self._held:
            return
        self._held.add(reviewer)
        answers, right = self._counts.pop(reviewer, (0, 0))
        if not answers:
            return  # nothing counted leaves: the epoch's checkpoints bounded the reviewers still counted
        self._answers -= answers
        self._right -= right
        self._epoch += 1
        self._bound, self._checkpoint = 1.0, 0
        self._base = max(self.first, self._answers)
        if self._answers == self._base:
            self._check()

    def release(self, reviewer: str) -> None:
        """The hold on ``reviewer`` ended (cleared, or forgotten by the review service's window): their answers
        count again from now on; none of before comes back."""
        self._held.discard(reviewer)

    def upper(self) -> float:
        """The least upper bound of this epoch (1 before its first checkpoint)."""
        return self._bound

    def state(self) -> dict[str, Any]:
        """Plain data (travels in model snapshots)."""
        return {
            "held_aware": True, "answers": self._answers, "right": self._right, "bound": self._bound,
            "checkpoint": self._checkpoint, "epoch": self._epoch, "base": self._base,
            "reviewers": {name: list(counts) for name, counts in self._counts.items()}, "held": sorted(self._held),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Adopt :meth:`state` (an empty mapping, or a plain gold bound's state, keeps a fresh estimator: a plain
        bound's counts are not per reviewer, so a hold could not drop them)."""
        if not state.get("held_aware"):
            return
        self._answers, self._right = int(state["answers"]), int(state["right"])
        self._bound, self._checkpoint = float(state["bound"]), int(state["checkpoint"])
        self._epoch, self._base = int(state["epoch"]), int(state["base"])
        self._counts = {str(name): [int(n), int(r)] for name, (n, r) in state["reviewers"].items()}
        self._held = set(state["held"])
