"""Run labeling functions over a batch of records without ever letting one stop the caller.

Each LF runs over the whole batch in a worker thread of its own (one
hand-off per batch, not per record); the caller waits at most
``batch_timeout`` seconds for all of them. What can go wrong, and what
happens:

- an LF **raises**: that record's vote is an abstention; counted in ``errors``
  (the last message is kept for ``lf stats``);
- one call is **slow** (longer than ``call_timeout``): its vote is dropped
  (abstention), counted in ``slow`` — a slow rule is a rule the hot path
  cannot afford;
- the batch **deadline** passes (an LF hangs, or is slow on every record):
  the votes it gave so far count, the rest of the batch abstains (counted in
  ``timed_out``), the worker is told to stop after its current call, and the
  LF is suspended — skipped (``skipped``) until its stuck call returns and a
  back-off (``suspend_seconds``, doubling per consecutive timeout up to
  ``max_suspend_seconds``) has passed.

Nothing an LF does raises into the caller. With ``batch_timeout=None`` the
LFs run in the calling thread (no deadline: deterministic, for tests and
offline analysis); raising and slow calls are handled the same way.

A batch's votes are one tuple per record, aligned with ``functions``
(``None`` = abstain).

>>> from labelstream.core.weak.functions import LabelingFunction
>>> positive = LabelingFunction("positive", lambda r: "pos" if r > 0 else None)
>>> broken = LabelingFunction("broken", lambda r: 1 / 0)
>>> applier = LFApplier([positive, broken], batch_timeout=None)
>>> applier.apply([2, -1])
[('pos', None), (None, None)]
>>> applier.counts["broken"].errors, applier.counts["positive"].votes
(2, 1)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from typing import Any

from labelstream.core.weak.functions import LabelingFunction

Votes = tuple[str | None, ...]
"""One record's votes, aligned with the applier's functions (``None`` = abstain)."""


@dataclass
class LFCounts:
    """What happened to one LF's calls (cumulative). Each field has a single writer."""

    calls: int = 0
    votes: int = 0
    errors: int = 0
    slow: int = 0
    timed_out: int = 0
    skipped: int = 0
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LFApplier:
    """Applies labeling functions to batches, isolating their failures (see the module docstring).

    Parameters
    ----------
    functions
        The labeling functions, in vote order.
    call_timeout
        Seconds; a single call slower than this has its vote dropped.
    batch_timeout
        Seconds the caller waits for a batch; ``None`` runs inline without a deadline.
    suspend_seconds, max_suspend_seconds
        Back-off of an LF after a batch deadline passed (doubles per consecutive timeout).
    clock
        Monotonic clock (tests inject one).
    """

    def __init__(
        self,
        functions: Sequence[LabelingFunction],
        call_timeout: float = 0.05,
        batch_timeout: float | None = 1.0,
        suspend_seconds: float = 5.0,
        max_suspend_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.functions = list(functions)
        self.call_timeout = call_timeout
        self.batch_timeout = batch_timeout
        self.suspend_seconds = suspend_seconds
        self.max_suspend_seconds = max_suspend_seconds
        self.clock = clock
        self.names = [lf.name for lf in self.functions]
        self.counts: dict[str, LFCounts] = {name: LFCounts() for name in self.names}
        self._executors: list[ThreadPoolExecutor | None] = [None] * len(self.functions)
        self._stuck: list[Future | None] = [None] * len(self.functions)
        self._suspended_until = [0.0] * len(self.functions)
        self._consecutive_timeouts = [0] * len(self.functions)

    def __getstate__(self) -> dict[str, Any]:  # threads are not pickled; counts and functions are
        return {**self.__dict__, "_executors": [None] * len(self.functions), "_stuck": [None] * len(self.functions)}

    def apply(self, records: Sequence[Any]) -> list[Votes]:
        """Every LF's vote on every record: one tuple per record, in order."""
        if not self.functions:
            return [()] * len(records)
        if not records:
            return []
        columns = [self._column(i, records) for i in range(len(self.functions))] if self.batch_timeout is None else (
            self._columns_threaded(records)
        )
        return list(zip(*columns, strict=True))

    def suspended(self) -> list[str]:
        """Names of the LFs currently skipped after a timeout."""
        now = self.clock()
        return [
            name for i, name in enumerate(self.names)
            if (self._stuck[i] is not None and not self._stuck[i].done()) or now < self._suspended_until[i]
        ]

    def close(self) -> None:
        """Stop the worker threads (a stuck call is abandoned; its thread ends when the call returns)."""
        for executor in self._executors:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        self._executors = [None] * len(self.functions)

    # -- inside -----------------------------------------------------------------------------------

    def _column(self, i: int, records: Sequence[Any], cancel: threading.Event | None = None) -> list[str | None]:
        out: list[str | None] = [None] * len(records)
        self._fill(i, records, out, cancel)
        return out

    def _fill(self, i: int, records: Sequence[Any], out: list[str | None], cancel: threading.Event | None) -> None:
        lf, counts, limit, clock = self.functions[i].function, self.counts[self.names[i]], self.call_timeout, time.perf_counter
        calls = votes = 0
        try:
            for k, record in enumerate(records):
                if cancel is not None and cancel.is_set():
                    return
                calls += 1
                started = clock()
                try:
                    vote = lf(record)
                except Exception as exc:  # noqa: BLE001 - an LF's bug is its abstention, never the caller's crash
                    counts.errors += 1
                    counts.last_error = f"{type(exc).__name__}: {exc}"[:300]
                    continue
                if clock() - started > limit:
                    counts.slow += 1
                    continue
                if vote is not None:
                    out[k] = vote if type(vote) is str else str(vote)
                    votes += 1
        finally:  # counted once per batch (fewer attribute writes on the hot path), also when cancelled
            counts.calls += calls
            counts.votes += votes

    def _columns_threaded(self, records: Sequence[Any]) -> list[list[str | None]]:
        now = self.clock()
        deadline = time.monotonic() + (self.batch_timeout or 0.0)
        running: list[tuple[int, Future, list[str | None], threading.Event]] = []
        columns: list[list[str | None]] = [[None] * len(records) for _ in self.functions]
        for i in range(len(self.functions)):
            if not self._available(i, now):
                self.counts[self.names[i]].skipped += len(records)
                continue
            cancel = threading.Event()
            future = self._executor(i).submit(self._guarded_fill, i, records, columns[i], cancel)
            running.append((i, future, columns[i], cancel))
        for i, future, column, cancel in running:
            try:
                future.result(timeout=max(deadline - time.monotonic(), 0.0))
                self._consecutive_timeouts[i] = 0
            except FutureTimeout:
                cancel.set()
                columns[i] = list(column)  # the votes given so far; the worker no longer writes into this copy
                self.counts[self.names[i]].timed_out += sum(vote is None for vote in columns[i])
                self._suspend(i, future)
        return columns

    def _guarded_fill(self, i: int, records: Sequence[Any], out: list[str | None], cancel: threading.Event) -> None:
        try:
            self._fill(i, records, out, cancel)
        except BaseException as exc:  # noqa: BLE001 - e.g. SystemExit in an LF: still only that LF's problem
            counts = self.counts[self.names[i]]
            counts.errors += 1
            counts.last_error = f"{type(exc).__name__}: {exc}"[:300]

    def _available(self, i: int, now: float) -> bool:
        stuck = self._stuck[i]
        if stuck is not None:
            if not stuck.done():
                return False
            self._stuck[i] = None
        return now >= self._suspended_until[i]

    def _suspend(self, i: int, future: Future) -> None:
        self._consecutive_timeouts[i] += 1
        backoff = min(self.suspend_seconds * 2 ** (self._consecutive_timeouts[i] - 1), self.max_suspend_seconds)
        self._suspended_until[i] = self.clock() + backoff
        self._stuck[i] = future

    def _executor(self, i: int) -> ThreadPoolExecutor:
        executor = self._executors[i]
        if executor is None:
            executor = self._executors[i] = ThreadPoolExecutor(1, thread_name_prefix=f"lf-{self.names[i]}"[:40])
        return executor
