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

A review that the gate turns down is not a random event for the record, but
it changes how many records each answer stands for: when only one request in
four fits, a reviewed record stands for four. :meth:`ReviewBudget.request`
keeps a running admission rate per gate (reserved or not), which the policy
multiplies into each review's inclusion probability, so that estimates
weight answers from a starved period and from a quiet one alike.

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
    rate_smoothing
        Weight of the latest request in the running admission rate.
    """

    def __init__(
        self,
        share: float | None = None,
        per_minute: float | None = None,
        reserve: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        rate_smoothing: float = 0.02,
    ) -> None:
        if not 0.0 <= reserve < 1.0:
            raise ValueError(f"reserve must be in [0, 1), got {reserve}")
        self.share = share
        self.per_minute = per_minute
        self.reserve = reserve
        self.clock = clock
        self.rate_smoothing = rate_smoothing
        self._admitted = {False: 1.0, True: 1.0}
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

    def request(self, reserved: bool = False) -> bool:
        """Like :meth:`allows`, and counted in the gate's admission rate (call :meth:`spend` if used)."""
        allowed = self.allows(reserved)
        rate = self._admitted[reserved]
        self._admitted[reserved] = rate + self.rate_smoothing * (allowed - rate)
        return allowed

    def admission_rate(self, reserved: bool = False) -> float:
        """Running share of requests the gate let through (never below 1%)."""
        return max(self._admitted[reserved], 0.01)

    def spend(self) -> None:
        """Record one review (call only after :meth:`allows`)."""
        self.reviews += 1
        if self.per_minute is not None:
            self._tokens -= 1.0

    def try_spend(self, reserved: bool = False) -> bool:
        """Request one review and spend it if it fits; whether it did."""
        if self.request(reserved):
            self.spend()
            return True
        return False

    def _refill(self) -> None:
        now = self.clock()
        rate_per_second = (self.per_minute or 0.0) / 60.0
        self._tokens = min(self._capacity, self._tokens + (now - self._refilled_at) * rate_per_second)
        self._refilled_at = now
