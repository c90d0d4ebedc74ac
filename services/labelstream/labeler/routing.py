"""The labeler's routing of fetched messages: through the handler, never crashing on one, timed, ahead on a thread.

:class:`Routing` asks the :class:`~labelstream.labeler.batch.BatchHandler`
for one output a message (should it raise, one message at a time; one that
still raises becomes a dead letter by reference), keeps the recent cost of a
record to size fetches to ``commit_interval_ms``, and routes the next batch
on a helper thread while the loop commits this one.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from confluent_kafka import Message

from labelstream.labeler.batch import BatchHandler, Output

log = logging.getLogger("labelstream.labeler.routing")


class Routing:
    """Routes messages for the transaction loop and sizes its fetches (see the module docstring)."""

    def __init__(self, handler: BatchHandler, batch_size: int, commit_interval: float) -> None:
        self.handler = handler
        self.batch_size = batch_size
        self.commit_interval = commit_interval
        self._seconds_per_record = 0.0  # routing + producing, averaged: sizes fetches to the commit interval
        # Routes the next batch while this one commits (one thread: routing stays in input order).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="route-ahead")

    def submit(self, messages: list[Message]) -> Future:
        """Route ``messages`` on the helper thread; the future gives (outputs, seconds spent routing)."""
        return self._thread.submit(self._route_timed, messages)

    def shutdown(self) -> None:
        """Wait for what the helper thread is routing, and end it."""
        self._thread.shutdown(wait=True)

    def route(self, messages: list[Message]) -> list[Output]:
        """The handler's outputs; should it raise (a bug), one message at a time, and one that still
        raises becomes a dead letter by reference: no message can crash-loop the labeler."""
        try:
            return self.handler.route(messages)
        except Exception:  # noqa: BLE001
            log.exception("routing a batch of %d raised; routing one by one", len(messages))
        outputs: list[Output] = []
        for message in messages:
            try:
                outputs += self.handler.route([message])
            except Exception as exc:  # noqa: BLE001
                outputs.append(self.handler.replace(message, None, f"routing raised {type(exc).__name__}: {exc}"[:500]))
        return outputs

    def fetch_size(self) -> int:
        """How many records one fetch may take: as many as can be routed and produced in ``commit_interval_ms``
        (from the recent cost a record; ``batch_size`` until measured)."""
        if self._seconds_per_record <= 0:
            return self.batch_size
        return max(1, min(self.batch_size, int(self.commit_interval / self._seconds_per_record)))

    def observe(self, records: int, seconds: float) -> None:
        """Track the cost of routing and producing a record (exponential average over chunks of 50 or more)."""
        if records < 50:  # a few records cost more each (fixed costs): they would size fetches too small
            return
        each = seconds / records
        self._seconds_per_record = each if self._seconds_per_record <= 0 else 0.8 * self._seconds_per_record + 0.2 * each

    def _route_timed(self, messages: list[Message]) -> tuple[list[Output], float]:
        started = time.perf_counter()
        outputs = self.route(messages)
        return outputs, time.perf_counter() - started
