"""The review budget: one gate that every human review passes through.

Two limits, each optional: a *share* of the stream (``share=0.3``: over any
prefix of the stream, at most ``0.3 * records + 1`` reviews) and a *rate*
(``per_minute=20``: a token bucket that refills at 20 a minute and holds at
most one minute's worth, so over any span of time reviews stay within
``1 + rate * minutes``). Part of the budget (``reserve``) is kept for reviews
that must not starve — audits and the cold start — so that uncertain records
cannot crowd them out.

The budget is routing state: each labeler keeps its own (a share holds
across labelers; a rate is per labeler).

>>> budget = ReviewBudget(share=0.25, reserve=0.0)
>>> granted = []
>>> for _ in range(8):
...     budget.count_record()
...     granted.append(budget.try_spend())
>>> granted
[True, False, False, True, False, False, False, True]
>>> budget.reviews, budget.records
(3, 8)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ReviewBudget:
    """Grants reviews within a share of the stream and/or a rate per minute.

    Parameters
    ----------
    share
        Reviews per record, over every prefix of the stream (``None``: no share limit).
    per_minute
        Reviews per minute (``None``: no rate limit).
    reserve
        Fraction of both limits that only ``reserved`` reviews (audits, cold start) may use.
    clock
        Seconds, monotonic; the simulator passes a virtual clock.
    """

    def __init__(
        self,
        share: float | None = None,
        per_minute: float | None = None,
        reserve: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= reserve < 1.0:
            raise ValueError(f"reserve must be in [0, 1), got {reserve}")
        self.share = share
        self.per_minute = per_minute
        self.reserve = reserve
        self.clock = clock
        self.records = 0
        self.reviews = 0
        self._capacity = max(1.0, per_minute or 0.0)
        self._tokens = 1.0
        self._refilled_at = clock()

    @property
    def unlimited(self) -> bool:
        return self.share is None and self.per_minute is None

    def count_record(self) -> None:
        """A record arrived (the share budget grows with the stream)."""
        self.records += 1

    def allows(self, reserved: bool = False) -> bool:
        """Whether one more review fits; ``reserved`` reviews may also use the reserve."""
        usable = 1.0 if reserved else 1.0 - self.reserve
        if self.share is not None and self.reviews > math.floor(self.share * usable * self.records + 1e-9):
            return False
        if self.per_minute is not None:
            self._refill()
            if self._tokens < 1.0 + (1.0 - usable) * (self._capacity - 1.0):
                return False
        return True

    def spend(self) -> None:
        """Record one review (call only after :meth:`allows`)."""
        self.reviews += 1
        if self.per_minute is not None:
            self._tokens -= 1.0

    def try_spend(self, reserved: bool = False) -> bool:
        """Spend one review if it fits; whether it did."""
        if self.allows(reserved):
            self.spend()
            return True
        return False

    def _refill(self) -> None:
        now = self.clock()
        rate_per_second = (self.per_minute or 0.0) / 60.0
        self._tokens = min(self._capacity, self._tokens + (now - self._refilled_at) * rate_per_second)
        self._refilled_at = now
