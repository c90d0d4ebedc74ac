"""Several simulated reviewers answering one stream, each with their own error rate, and the review service's holds.

The live review service has several people, who are not equally accurate.
:class:`ReviewerPool` stands for them in ``labelstream simulate``:

- **Who answers.** Each reviewed record is answered by one reviewer drawn by
  a seeded rule: in proportion to each reviewer's ``share`` (uniform by
  default), among the reviewers not held. A held reviewer's share goes to the
  others, pro rata. Each reviewer answers with their own error rate (their
  own :class:`~labelstream.simulate.reviewer.SimulatedReviewer`: one error
  mode and one delay for the whole pool).
- **Gold answers.** A gold item beside a reviewed record (``review.gold_share``)
  is answered by the reviewer who answered the record, at their error rate:
  gold answers spread over the reviewers as the stream's answers do, as
  ``docs/contract.md`` section 5 asks of a gold bound.
- **Holds** (``review.gold_hold_below > 0``). After each gold answer the
  reviewer's figures go through the live service's rule,
  :func:`~labelstream.core.reviewer_gold.held_by` (at least ``min_answers``
  gold answers, the high end of their 95 % Wilson interval under the floor).
  The review service sees an answer when it is given, so a hold takes effect
  at the next record's choice: from then on the reviewer answers nothing.
  The figures cover the reviewer's gold answers of the last ``window``
  records (the live service's 7 days; ``None``: the whole run, a week being
  longer than any simulated stream): when the window forgets enough of them
  the rule no longer holds the reviewer, and they are released at the next
  choice, as the live service releases at the first claim granted after it.
  (The lead's clearance has no counterpart here.)

The pool only decides who answers, and when a hold begins or ends; the
simulation tells the policy (``ContractPolicy.hold_reviewer``, as the
learner does with the live ``hold`` correction) and feeds each gold answer to
``ContractPolicy.learn_gold`` with its reviewer's name
(:class:`~labelstream.simulate.runner.Simulation`).

>>> pool = ReviewerPool([0.01, 0.01, 0.5], names=["ann", "cy", "bo"], hold_below=0.9, seed=3)
>>> labels = ["cat", "dog"]
>>> for index in range(300):
...     name = pool.choose(index)
...     truth = labels[index % 2]
...     pool.gold_answer(name, pool.answer(name, truth, None, labels) == truth, index)
...     for change in pool.changes(index):
...         print(index, change)
29 ('bo', True)
>>> pool.choose(301) in ("ann", "cy"), pool.held
(True, frozenset({'bo'}))
>>> [(m.name, m.gold_answers, m.gold_right) for m in pool.members]  # bo: 5 of 10 right, then nothing
[('ann', 144, 142), ('cy', 146, 143), ('bo', 10, 5)]
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labelstream.core.reviewer_gold import ReviewerGold, held_by
from labelstream.errors import LabelstreamError
from labelstream.simulate.reviewer import ErrorMode, SimulatedReviewer


def parse_rates(spec: str | float) -> list[float]:
    """``"0.01,0.03,0.25"`` -> one error rate a reviewer; a single value -> one reviewer.

    >>> parse_rates("0.01, 0.03,0.25"), parse_rates(0.03)
    ([0.01, 0.03, 0.25], [0.03])
    """
    parts = [part.strip() for part in str(spec).split(",")]
    try:
        rates = [float(part) for part in parts]
    except ValueError:
        rates = []
    if not rates or any(not 0.0 <= rate <= 1.0 for rate in rates):
        raise LabelstreamError(
            f"invalid reviewer error rate {spec!r}: give a probability in [0, 1], or one a reviewer separated by "
            "commas (e.g. 0.01,0.02,0.25: three reviewers)"
        )
    return rates


def parse_shares(spec: str, count: int) -> list[float]:
    """``"2,2,1"`` -> each reviewer's weight (``count`` of them, positive).

    >>> parse_shares("2, 2,1", 3)
    [2.0, 2.0, 1.0]
    """
    try:
        shares = [float(part) for part in spec.split(",")]
    except ValueError:
        shares = []
    if len(shares) != count or any(share <= 0 for share in shares):
        raise LabelstreamError(f"invalid reviewer shares {spec!r}: give {count} positive weights separated by commas, "
                               "one a reviewer of --reviewer-error-rate")
    return shares


@dataclass
class PoolMember:
    """One reviewer of the pool: their error rate, share, and what they did in the run."""

    name: str
    error_rate: float
    share: float
    reviewer: SimulatedReviewer
    answers: int = 0  # stream records answered (overlap second answers included)
    gold_answers: int = 0
    gold_right: int = 0
    answers_while_held: int = 0  # always 0 unless every reviewer is held at once (see ReviewerPool.choose)
    holds: list[int] = field(default_factory=list)  # record indexes at which a hold began
    releases: list[int] = field(default_factory=list)  # ... and ended
    _recent: deque[tuple[int, bool]] = field(default_factory=deque)  # (record index, right) of gold answers in the window
    _recent_right: int = 0

    def report(self) -> dict[str, Any]:
        return {
            "name": self.name, "error_rate": self.error_rate, "share": self.share, "answers": self.answers,
            "gold_answers": self.gold_answers, "gold_right": self.gold_right, "holds": list(self.holds),
            "releases": list(self.releases), "answers_while_held": self.answers_while_held,
        }


class ReviewerPool:
    """Several reviewers: who answers each record, their answers, and the review service's holds (module docstring).

    Parameters
    ----------
    error_rates
        One error rate a reviewer.
    shares
        Each reviewer's share of the answers (any positive weights; ``None``: equal).
    names
        Reviewer names (``None``: ``r1``, ``r2``, ...).
    delay
        The pool's delay (:class:`SimulatedReviewer`'s ``delay``).
    errors
        The pool's error mode (:class:`SimulatedReviewer`'s ``errors``).
    hold_below
        ``review.gold_hold_below``: the floor of the hold rule (0: no holds).
    hold_min_answers
        ``review.gold_hold_min_answers``.
    window
        Records whose gold answers the hold rule reads (``None``: every one so far).
    seed
        Seed of the choices, the delays and each reviewer's answers.
    """

    def __init__(
        self, error_rates: Sequence[float], shares: Sequence[float] | None = None, names: Sequence[str] | None = None,
        delay: str | int | float | None = None, errors: ErrorMode = "independent", hold_below: float = 0.0,
        hold_min_answers: int = 10, window: int | None = None, seed: int = 0,
    ) -> None:
        if not error_rates:
            raise LabelstreamError("a reviewer pool needs at least one reviewer")
        count = len(error_rates)
        shares = [1.0] * count if shares is None else list(shares)
        names = [f"r{i + 1}" for i in range(count)] if names is None else list(names)
        if len(shares) != count or len(names) != count:
            raise LabelstreamError(f"{count} reviewer error rates but {len(shares)} shares and {len(names)} names: "
                                   "give one of each a reviewer")
        if any(share <= 0 for share in shares) or len(set(names)) != count:
            raise LabelstreamError("reviewer shares must be positive and names distinct")
        total = sum(shares)
        self.members = [
            PoolMember(name, rate, share / total, SimulatedReviewer(None, rate, errors, seed=seed * 1009 + 11 * i + 1))
            for i, (name, rate, share) in enumerate(zip(names, error_rates, shares, strict=True))
        ]
        self.hold_below = hold_below
        self.hold_min_answers = hold_min_answers
        self.window = window
        self.errors = errors
        self._delay = SimulatedReviewer(delay, 0.0, seed=seed * 1009)
        self._rng = random.Random(seed * 1009 + 7)
        self._by_name = {member.name: member for member in self.members}
        self._held: set[str] = set()

    @property
    def held(self) -> frozenset[str]:
        """The reviewers held now."""
        return frozenset(self._held)

    def delay_records(self) -> int:
        """How many records after its routing the next answer reaches the learner (the pool's delay)."""
        return self._delay.delay_records()

    def choose(self, index: int, exclude: str | None = None) -> str | None:
        """Who answers the record routed at ``index``: drawn by share among the reviewers not held (and not
        ``exclude``: an overlap item's second answer is another reviewer's). Holds take effect as :meth:`changes` last
        found them (the simulation calls it before each choice). ``None``: nobody is left for a second answer. If every reviewer
        is held, the record is answered all the same by share among all (counted in ``answers_while_held``): a
        simulated queue is never left unanswered."""
        candidates = [m for m in self.members if m.name not in self._held and m.name != exclude]
        if not candidates:
            if exclude is not None:
                return None
            candidates = list(self.members)
        draw = self._rng.random() * sum(m.share for m in candidates)
        chosen = candidates[-1]
        for member in candidates:
            draw -= member.share
            if draw < 0:
                chosen = member
                break
        chosen.answers += 1
        chosen.answers_while_held += int(chosen.name in self._held)
        return chosen.name

    def answer(self, name: str, truth: str, proposed: str | None, labels: Sequence[str]) -> str:
        """Reviewer ``name``'s label for a record whose true label is ``truth`` (the model proposed ``proposed``)."""
        return self._by_name[name].reviewer.answer(truth, proposed, labels)

    def gold_answer(self, name: str, correct: bool, index: int) -> None:
        """Reviewer ``name`` answered a gold item at record ``index``, rightly or not (the review service's figures;
        the hold rule reads them at the next :meth:`changes`)."""
        member = self._by_name[name]
        member.gold_answers += 1
        member.gold_right += int(correct)
        member._recent.append((index, correct))
        member._recent_right += int(correct)

    def changes(self, index: int) -> list[tuple[str, bool]]:
        """The hold rule on every reviewer's recent figures at record ``index``: each reviewer whose state changes,
        with whether they are now held (in the pool's order; empty: no change, or holds off)."""
        if self.hold_below <= 0:
            return []
        changed = []
        for member in self.members:
            recent = member._recent
            if self.window is not None:
                while recent and recent[0][0] <= index - self.window:
                    member._recent_right -= int(recent.popleft()[1])
            held = held_by(ReviewerGold(len(recent), member._recent_right), self.hold_below, self.hold_min_answers)
            if held != (member.name in self._held):
                (self._held.add if held else self._held.discard)(member.name)
                (member.holds if held else member.releases).append(index)
                changed.append((member.name, held))
        return changed

    def report(self) -> list[dict[str, Any]]:
        """Each reviewer's figures (the report's ``reviewers``)."""
        return [member.report() for member in self.members]
