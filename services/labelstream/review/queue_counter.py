"""The waiting count as reviewers see it: exact while small, rounded down to a step above that.

Claiming a gold item leaves the real item it replaced in line, so the count of
waiting items does not drop, where a real claim lowers it by one: on an exact
counter, a reviewer alone on a quiet stream would see which claim was gold
(docs/review.md, "Tells left"). Reviewers are shown :meth:`QueueCounter.shown`
instead: the count itself below ``exact_below``, and from there on the count
rounded down to a multiple of ``step`` ("40+"). The claim serves a gold item
only where a real claim would not change what is shown either
(:meth:`QueueCounter.gold_may_replace`, mirrored in ``lua/claim.lua``): never
below ``exact_below``, never at a multiple of ``step``. A gold claim and a real
one then look the same on the counter; what a reviewer can still count is the
number of gold items between two steps (more claims than ``step`` between them),
not which claims they were. The review lead's overview and ``labelstream review
status`` stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueCounter:
    """How the waiting count is shown to reviewers, and where a gold item may take a real one's place.

    Parameters
    ----------
    exact_below
        Counts under this are shown as they are (``review.queue_counter_exact_below``); a multiple of ``step``.
    step
        At or above ``exact_below`` the count is rounded down to a multiple of this (``review.queue_counter_step``).

    Examples
    --------
    >>> counter = QueueCounter(exact_below=10, step=10)
    >>> [counter.text(n) for n in (0, 7, 9, 10, 19, 20, 134)]
    ['0', '7', '9', '10+', '10+', '20+', '130+']
    >>> [n for n in range(8, 23) if counter.gold_may_replace(n)]
    [11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22]
    """

    exact_below: int = 10
    step: int = 10

    def __post_init__(self) -> None:
        if self.step < 2 or self.exact_below < 0 or self.exact_below % self.step:
            raise ValueError(
                f"queue counter: step {self.step} must be at least 2 and exact_below {self.exact_below} "
                "a multiple of it, 0 or more"
            )

    def shown(self, waiting: int) -> tuple[int, bool]:
        """(the number shown, whether it is rounded: "at least") for ``waiting`` items."""
        if waiting < self.exact_below:
            return waiting, False
        return waiting - waiting % self.step, True

    def text(self, waiting: int) -> str:
        """The count as a reviewer reads it: ``"7"`` or ``"40+"``."""
        number, rounded = self.shown(waiting)
        return f"{number}+" if rounded else str(number)

    def gold_may_replace(self, waiting: int) -> bool:
        """Whether a claim made while ``waiting`` items wait may be a gold item: only if a real claim, which leaves
        ``waiting - 1``, would show the same."""
        return waiting > 0 and self.shown(waiting) == self.shown(waiting - 1)
