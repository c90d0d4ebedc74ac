"""What a batch that did not commit leads to: abort, keep, rewind; then fix its culprit, bisect it, or wait.

When a batch does not commit, :class:`Recovery` aborts it and seeks its
partitions back to the batch's first offsets (the committed ones), and the
handler keeps the batch's outputs so that the redo publishes the same outcomes
without routing again. Then, by the kind of failure:

- a message the broker refused for what it is (too large for the topic, ...):
  the handler replaces that input's output with a dead letter *by reference*,
  and the batch is redone at once;
- an abortable failure that names no single message: the batch is bisected
  (the next fetch takes half as many records; each commit doubles it again)
  down to one record; one record that keeps failing alone while the broker
  answers is dead-lettered by reference: no record can block its partition;
- the broker, the coordinator or Redis away, the group rebalancing: wait
  (exponential backoff up to ``MAX_BACKOFF``) and redo, for as long as it takes;
- the producer fenced or broken: a new one (its ``init_transactions`` aborts
  what the old one left open).
"""

from __future__ import annotations

import logging
import random
import threading
import time

from labelstream.labeler.batch import Ahead, Batch, BatchHandler, Retried, RetryLater
from labelstream.labeler.consumer import GroupConsumer
from labelstream.labeler.health import LoopState
from labelstream.labeler.transactions import DeliveryFailure, TransactionFailed, Transactions

log = logging.getLogger("labelstream.labeler.recovery")

# Backoff after a failed batch: doubles from MIN to MAX (with jitter), back to MIN after a commit.
MIN_BACKOFF = 0.25
MAX_BACKOFF = 10.0
# One record whose transaction fails this often (abortable, unattributed) while the broker answers is dead-lettered.
SINGLE_RECORD_ATTEMPTS = 3


class Recovery:
    """The loop's answer to a failed batch, and what it leaves for the next ones: ``limit`` and ``backoff``."""

    def __init__(
        self,
        transactions: Transactions,
        consumer: GroupConsumer,
        handler: BatchHandler,
        state: LoopState,
        on_retry: Retried,
        batch_size: int,
        stop: threading.Event,
    ) -> None:
        self.transactions = transactions
        self.consumer = consumer
        self.handler = handler
        self.state = state
        self.on_retry = on_retry
        self.batch_size = batch_size
        self.limit = batch_size  # lowered while bisecting a batch that failed without naming a culprit
        self.backoff = 0.0  # seconds to wait before the next batch; 0 after a commit
        self._stop = stop
        self._single_failures: dict[tuple[str, int, int], int] = {}

    @property
    def bisecting(self) -> bool:
        return self.limit < self.batch_size

    def failed(self, batch: Batch, failure: TransactionFailed | RetryLater, ahead: Ahead | None = None) -> None:
        """Abort, keep the batch's outputs (and those routed ahead) for the redo, rewind; then fix, bisect or
        wait by the kind of failure."""
        kind = failure.kind if isinstance(failure, TransactionFailed) else "redis"
        error = str(failure)
        log.warning("batch of %d not committed (%s): %s", len(batch.messages), kind, error)
        self.state.failed(error)
        self.abort_or_replace(failure)
        failures = self.transactions.take_delivery_failures()  # after the abort: it serves the last reports
        # The broker fails every message of a producer batch it refuses: one refused message names its
        # input; several may hold innocent neighbours, so the batch is bisected until one is alone.
        refused = [f for f in failures if f.content]
        if kind == "abortable" and failures and not refused:  # messages timed out: the broker is away
            kind = "transient"
        culprits = self._culprits(batch, refused) if len(refused) == 1 else {}
        if culprits:
            for index, reason in culprits.items():
                batch.outputs[index] = self.handler.replace(batch.messages[index], batch.outputs[index], reason)
            reason = "poison"
        elif refused or kind == "abortable":
            reason = "bisect"
            self._bisect(batch, error if not refused else f"{error}; {refused[0].reason}")
        elif kind in ("redo", "rebalance"):  # nothing to wait for
            reason = "producer" if kind == "redo" else kind
        else:
            reason = {"fatal": "producer", "redis": "redis"}.get(kind, "broker")
            self._back_off()
        self.on_retry(reason)
        self.handler.remember(batch.messages, batch.outputs)
        if ahead is None:
            self.consumer.rewind(batch.messages)
            return
        if ahead.routing is not None:
            outputs, _seconds = ahead.outputs()  # routed once: the redo publishes them as they are
            self.handler.remember(ahead.messages, outputs)
        self.consumer.rewind(batch.messages + ahead.messages)  # each partition back to its first offset in either

    def failed_later(self, reason: str, error: str) -> None:
        """Nothing to redo yet (e.g. no producer): count the retry and back off."""
        self.state.failed(error)
        self.on_retry(reason)
        self._back_off()

    def committed(self) -> None:
        """A batch committed: no more backoff; while bisecting, the next batches grow back."""
        self.backoff = 0.0
        if self.limit < self.batch_size:
            self.limit = min(self.batch_size, self.limit * 2)
            if self.limit == self.batch_size:
                self._single_failures.clear()

    def abort_or_replace(self, exc: Exception) -> None:
        """Abort the open transaction; a fatal failure needs a new producer instead."""
        if isinstance(exc, TransactionFailed) and exc.kind == "fatal":
            self.transactions.replace(exc)
        else:
            self.transactions.abort()

    def wait_backoff(self) -> bool:
        """Sleep the backoff (with jitter), turning; ``False`` when stopped meanwhile."""
        delay = self.backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self._stop.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                return False
            self.state.turned()
        return True

    def _back_off(self) -> None:
        self.backoff = MIN_BACKOFF if not self.backoff else min(self.backoff * 2, MAX_BACKOFF)

    def _culprits(self, batch: Batch, failures: list[DeliveryFailure]) -> dict[int, str]:
        """Which inputs' outputs the broker refused (matched by topic, key and value)."""
        if not failures:
            return {}
        refused = {(f.topic, f.key, f.value): f.reason for f in failures}
        return {
            index: f"its outcome ({len(output.value)} bytes) was refused by the broker: {refused[key]}"
            for index, output in enumerate(batch.outputs)
            if (key := (output.topic, output.key, output.value)) in refused
        }

    def _bisect(self, batch: Batch, error: str) -> None:
        """Fetch half as many records next time (each commit doubles it again, up to ``batch_size``);
        one record that still fails alone while the broker answers is dead-lettered by reference."""
        if len(batch.messages) > 1:
            self.limit = max(1, len(batch.messages) // 2)
            log.warning("bisecting: next batches take %d records", self.limit)
            return
        message = batch.messages[0]
        where = (message.topic(), message.partition(), message.offset())
        self._single_failures[where] = attempts = self._single_failures.get(where, 0) + 1
        if attempts >= SINGLE_RECORD_ATTEMPTS and self.transactions.broker_reachable():
            log.warning("%s[%d]@%d fails alone %d times while the broker answers: dead-lettered by reference", *where, attempts)
            batch.outputs[0] = self.handler.replace(message, batch.outputs[0], f"its transaction failed {attempts} times: {error}"[:500])
            del self._single_failures[where]
        else:
            self.backoff = MIN_BACKOFF
