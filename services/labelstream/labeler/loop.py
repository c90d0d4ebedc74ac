"""The labeler's transaction loop: consume, publish, commit, exactly once, whatever fails.

It knows nothing of models: a :class:`BatchHandler` turns a batch of
messages into one output message each (and does what must precede the
commit, such as storing records in Redis); the loop owns the consumer, the
transactional producer, the offsets and every failure. One cycle:

1. **between batches**: the handler may swap in a new model or relabel; then,
   if the last cycle began less than ``min_transaction_gap_ms`` ago, wait for
   the rest of it (at low rates, fewer and fuller transactions: each costs the
   broker its markers whatever it holds);
2. **collect**: take what is queued (waiting up to ``batch_max_wait_ms`` only
   when nothing is), up to what can be routed in ``commit_interval_ms``,
   route it, produce the outputs into the open transaction; go on only while
   fetches come back full, until ``batch_size`` records or
   ``commit_interval_ms`` since the first (group commit: what arrives during
   a transaction goes into the next one, so the batch grows with the rate);
3. **commit**: wait for the handler's side effects, add the input offsets,
   commit: the outputs and the offsets become visible together or not at all.
   Meanwhile a helper thread routes what is queued for the next batch (the
   commit waits on the broker with the GIL released): fetched before the
   commit, published in the next transaction, or kept and rewound with this
   batch when it does not commit (fewer than ``ROUTE_AHEAD_MIN`` records are
   routed after the commit instead; what arrives during the commit joins the
   next batch either way). Transactions stay strictly one at a time;
4. **after the commit**: the routing ahead is joined, then the handler counts
   (metrics, counters a redone batch must not inflate, drift reactions).

When a batch does not commit, the loop aborts it and seeks its partitions
back to the batch's first offsets (which are the committed ones), and the
handler keeps the batch's outputs so that the redo publishes the same
outcomes without routing again. Then, by the kind of failure:

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

``send_offsets_to_transaction``, which can block past its own timeout for as
long as the group coordinator is away (librdkafka issues 5456, 5511), runs on a
helper thread with a bound: past it the producer is abandoned to its stuck call
and a new one fences it (:mod:`labelstream.labeler.transactions`); the process
goes on. Any other transactional call stuck past its own timeout is caught by
the :class:`StallWatchdog`, which restarts the process in place (the last
resort; none measured since the bound).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from labelstream.kafka.config import consumer_config, producer_config
from labelstream.labeler.trace import TransactionTrace
from labelstream.labeler.transactions import MessageRejected, StuckCalls, TransactionFailed, Transactions
from labelstream.settings import Settings
from labelstream.watchdog import StallWatchdog, restart_in_place

log = logging.getLogger("labelstream.labeler.loop")

# How long a transactional call may overstay its own timeout before the watchdog restarts the process.
STALL_GRACE_SECONDS = 5.0
# send_offsets_to_transaction's timeout: short, so that a call that ignores it is caught soon. It is also the
# producer's socket.timeout.ms (librdkafka's default is the transaction timeout minus 0.1 s, 29.9 s here):
# send_offsets' first request waits for an answer that long whatever the call's timeout (measured: a 10 s call
# returned after 60.0 s with a 60 s transaction timeout, after 10.0 s with socket.timeout.ms 10000).
SEND_OFFSETS_TIMEOUT = 10.0
COMMIT_TIMEOUT = 60.0
# init_transactions / a retried abort: bounded, so that the loop turns (and /livez stays live) during an outage.
INIT_TIMEOUT = 10.0
# Backoff after a failed batch: doubles from MIN to MAX (with jitter), back to MIN after a commit.
MIN_BACKOFF = 0.25
MAX_BACKOFF = 10.0
# ... but at most this after a failed init_transactions: the call itself already waited INIT_TIMEOUT (the broker
# answers nothing, or "not coordinator" while it loads), so a doubling backoff on top only delays the first attempt
# after the coordinator is back (cycles of 10 + 10 s measured after a broker restart: up to 20 s lost).
INIT_RETRY_BACKOFF = 1.0
# Fewer records queued at a commit are routed after it on the loop's thread, not ahead on the helper thread:
# routing them takes less than the two thread hand-offs, which under CPU contention cost milliseconds each.
ROUTE_AHEAD_MIN = 64
# One record whose transaction fails this often (abortable, unattributed) while the broker answers is dead-lettered.
SINGLE_RECORD_ATTEMPTS = 3
# A transaction that takes longer than this, first begin to counted, is logged with where its time went
# (at most one line every SLOW_LOG_EVERY seconds): what a latency tail is made of.
SLOW_TRANSACTION_SECONDS = 0.5
SLOW_LOG_EVERY = 10.0


class Output(Protocol):
    """A message to publish."""

    topic: str
    key: bytes
    value: bytes


class RetryLater(Exception):
    """The handler's side effect failed for a while (e.g. Redis is down): abort and redo the batch later."""

    kind = "redis"


class BatchHandler(Protocol):
    """What the loop asks of the service; every method runs on the loop's thread."""

    def route(self, messages: Sequence[Message]) -> list[Output]:
        """One output per message, in order (never raises on bad input)."""

    def prepare(self, outputs: Sequence[Output]) -> Callable[[], None]:
        """Start what must precede the commit; the returned callable waits for it (raises :class:`RetryLater`)."""

    def replace(self, message: Message, output: Output | None, reason: str) -> Output:
        """A dead letter by reference for ``message``, whose ``output`` cannot be published (or routed: ``None``)."""

    def committed(self, messages: Sequence[Message], outputs: Sequence[Output], seconds: float) -> None:
        """The batch is committed (count it now, not before)."""

    def remember(self, messages: Sequence[Message], outputs: Sequence[Output]) -> None:
        """The batch did not commit and will be fetched again: keep its outputs for the redo."""

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """These partitions are no longer ours: drop what was kept for them."""

    def between_batches(self) -> None:
        """Outside any transaction: swap models, relabel, ..."""


@dataclass
class LoopState:
    """What the health checks read: is the loop turning, can it commit, what failed last."""

    started: bool = False
    last_turn: float = field(default_factory=time.monotonic)
    batches_committed: int = 0
    last_commit: float | None = None  # epoch seconds
    failing_since: float | None = None  # monotonic; None while commits succeed (or nothing to commit)
    last_error: str = ""
    retries: int = 0

    def turned(self) -> None:
        self.last_turn = time.monotonic()

    def failed(self, error: str) -> None:
        self.last_error = error
        self.retries += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    def succeeded(self) -> None:
        self.batches_committed += 1
        self.last_commit = time.time()
        self.failing_since = None
        self.last_error = ""


@dataclass
class _Batch:
    messages: list[Message] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    waiters: list[Callable[[], None]] = field(default_factory=list)
    started: float = 0.0
    routing: float = 0.0  # seconds spent routing and producing its records on the loop's thread
    began: float = 0.0  # perf_counter when collecting began (began_at: the same in epoch seconds), for the trace
    began_at: float = 0.0
    ahead: int = 0  # records fetched and routed ahead while the batch before committed
    chunks: list[tuple[int, float]] = field(default_factory=list)  # (records, seconds routing + producing) a fetch

    def add(self, messages: Sequence[Message], outputs: Sequence[Output]) -> None:
        self.messages += messages
        self.outputs += outputs


@dataclass
class _Ahead:
    """Messages fetched for the next batch, routed on the helper thread while this one commits
    (``routing`` is ``None`` for a few: they are routed on the loop's thread when their batch begins)."""

    messages: list[Message]
    wanted: int
    routing: Future | None  # -> (outputs, seconds spent routing)

    def outputs(self) -> tuple[list[Output], float]:
        return self.routing.result()


_DROPPED = _Ahead([], 0, Future())
"""What :meth:`TransactionLoop._route_ahead` answers when a rebalance took the batch away."""

Retried = Callable[[str], None]
"""Called with the reason of each batch retry (for the retries metric)."""


class TransactionLoop:
    """Consumer + transactional producer + offsets of one labeler instance (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        instance: str,
        handler: BatchHandler,
        on_retry: Retried = lambda reason: None,
        on_committed_offsets: Callable[[Sequence[TopicPartition]], None] = lambda offsets: None,
        producer_factory: Callable | None = None,
        on_stall: Callable[[str], None] = restart_in_place,
    ) -> None:
        self.settings = settings
        self.instance = instance
        self.handler = handler
        self.on_retry = on_retry
        self.on_committed_offsets = on_committed_offsets
        self.state = LoopState()
        labeler = settings.labeler
        self.batch_size = labeler.batch_size
        self.commit_interval = labeler.commit_interval_ms / 1000
        self.max_wait = labeler.batch_max_wait_ms / 1000
        self.min_gap = labeler.min_transaction_gap_ms / 1000
        self._cycle_began = 0.0  # perf_counter when the last cycle began collecting
        self.transactions = Transactions(self._producer_config(), **({"factory": producer_factory} if producer_factory else {}))
        self.consumer = self._new_consumer()
        self.stall_watchdog = StallWatchdog(on_stall)
        self.assignment: list[TopicPartition] = []
        self._dropped = False
        self._backoff = 0.0
        self._limit = self.batch_size  # lowered while bisecting a batch that failed without naming a culprit
        self._seconds_per_record = 0.0  # routing + producing, averaged: sizes fetches to the commit interval
        self._single_failures: dict[tuple[str, int, int], int] = {}
        self._stop = threading.Event()
        self._last_consumer_error = 0.0
        # Routes the next batch while this one commits (one thread: routing stays in input order).
        self._router = ThreadPoolExecutor(max_workers=1, thread_name_prefix="route-ahead")
        self._ahead: _Ahead | None = None
        self._slow_logged = 0.0
        self._trace = TransactionTrace(labeler.trace_file) if labeler.trace_file else None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Initialize the producer (retrying while the broker is away) and join the group."""
        self.init_producer()
        self.consumer.subscribe([self.settings.topics.records], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self.state.started = True

    def init_producer(self) -> None:
        """Until the transactional producer is initialized, or :meth:`stop`."""
        backoff = MIN_BACKOFF
        while not self._stop.is_set():
            self.state.turned()
            with self.stall_watchdog.guard("init_transactions", INIT_TIMEOUT + STALL_GRACE_SECONDS):
                if self.transactions.ensure_ready(INIT_TIMEOUT):
                    return
            self.state.failed("the broker does not answer (init_transactions)")
            self._stop.wait(backoff)
            backoff = min(backoff * 2, INIT_RETRY_BACKOFF)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Abort what is open and leave the group."""
        self._router.shutdown(wait=True)
        self._ahead = None  # routed, never published: fetched again from the committed offsets
        self.transactions.abort(10)
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("closing the consumer: %s", exc)
        self.transactions.close(10)
        if self._trace is not None:
            self._trace.close()

    # -- the cycle -----------------------------------------------------------------------------

    def run_cycle(self) -> None:
        """One batch: collect, commit, count (see the module docstring)."""
        self.state.turned()
        if self._backoff and not self._wait_backoff():
            return
        if not self.transactions.ready:
            with self.stall_watchdog.guard("init_transactions", INIT_TIMEOUT + STALL_GRACE_SECONDS):
                if not self.transactions.ensure_ready(INIT_TIMEOUT):
                    self._fail_later("producer", "the broker does not answer (init_transactions)")
                    self._backoff = min(self._backoff, INIT_RETRY_BACKOFF)
                    return
        self.handler.between_batches()
        if not self._wait_gap():
            return
        batch = self._collect()
        if batch is not None and batch.messages:
            self._commit(batch)

    def _wait_gap(self) -> bool:
        """Until ``min_transaction_gap_ms`` has passed since the last transaction began collecting (what arrives
        meanwhile joins this one); ``False`` when stopped meanwhile."""
        remaining = self._cycle_began + self.min_gap - time.perf_counter()
        if remaining > 0 and self._stop.wait(remaining):
            return False
        self._cycle_began = time.perf_counter()
        return True

    def publish(self, outputs: Sequence[Output]) -> bool:
        """Publish outputs in a transaction of their own, outside any batch (no offsets); ``False`` if not committed."""
        if not outputs:
            return True
        if not self.transactions.ready:
            return False
        try:
            self.transactions.begin()
            for output in outputs:
                self.transactions.produce(output.topic, output.key, output.value)
            self._commit_transaction()
        except (TransactionFailed, MessageRejected) as exc:
            log.warning("transaction outside a batch not committed: %s", exc)
            self._abort_or_replace(exc)
            return False
        return True

    def _collect(self) -> _Batch | None:
        """Fetch, route and produce what is queued; commit once it is in (group commit).

        One fetch takes what was queued, up to a size whose routing fits in
        ``commit_interval_ms`` (:meth:`_fetch_size`): what arrives meanwhile
        waits for the next transaction, so a record waits for at most one
        transaction besides its own. At 1k records/s a transaction carries the
        few records that came during the last commit; at 50k/s a full batch.
        A fetch that came back full goes on (more may be queued) until the
        batch is full or its time is up; so does a batch that begins with what
        was fetched ahead during the last commit (what came during the commit
        is queued behind it).
        """
        batch = _Batch(began=time.perf_counter(), began_at=time.time())
        wait = self.max_wait
        ahead, self._ahead = self._ahead, None
        while len(batch.messages) < self._limit:
            if ahead is not None:  # fetched (and routed, unless a few) while the last batch committed
                chunk, wanted = ahead.messages, ahead.wanted
                if ahead.routing is None:
                    routing = time.perf_counter()
                    outputs = self._route(chunk)
                else:
                    outputs, routed = ahead.outputs()
                    routing = time.perf_counter() - routed
                ahead = None
                batch.ahead = len(chunk)
                took_all = False  # what came during the commit is queued behind it: fetch on
            else:
                wanted = min(self._limit - len(batch.messages), self._fetch_size())
                chunk = self._fetch(wanted, wait)
                if self._dropped:  # partitions were revoked meanwhile: what we hold is not ours to commit
                    self._drop(batch.messages + chunk)
                    return None
                if not chunk:
                    break
                routing = time.perf_counter()
                outputs = self._route(chunk)
                took_all = len(chunk) < wanted
            batch.waiters.append(self.handler.prepare(outputs))
            try:
                if not self.transactions.in_transaction:
                    self.transactions.begin()
                    batch.started = time.perf_counter()
                for index, rejected in self.transactions.produce_many(outputs).items():
                    outputs[index] = self._rejected(chunk[index], outputs[index], rejected)
            except TransactionFailed as failure:
                batch.add(chunk, outputs)
                self._fail(batch, failure)
                return None
            batch.add(chunk, outputs)
            now = time.perf_counter()
            batch.routing += now - routing
            batch.chunks.append((len(chunk), now - routing))
            self._observe_routing(len(chunk), now - routing)
            if took_all or now - batch.started >= self.commit_interval:
                break  # took all that was queued, or its time is up: commit now
            wait = 0.0
        return batch

    def _fetch_size(self) -> int:
        """How many records one fetch may take: as many as can be routed and produced in ``commit_interval_ms``
        (from the recent cost a record; ``batch_size`` until measured)."""
        if self._seconds_per_record <= 0:
            return self.batch_size
        return max(1, min(self.batch_size, int(self.commit_interval / self._seconds_per_record)))

    def _observe_routing(self, records: int, seconds: float) -> None:
        """Track the cost of routing and producing a record (exponential average over chunks of 50 or more)."""
        if records < 50:  # a few records cost more each (fixed costs): they would size fetches too small
            return
        each = seconds / records
        self._seconds_per_record = each if self._seconds_per_record <= 0 else 0.8 * self._seconds_per_record + 0.2 * each

    def _route(self, messages: list[Message]) -> list[Output]:
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

    def _rejected(self, message: Message, output: Output, exc: MessageRejected) -> Output:
        """An output the client refused outright: a dead letter by reference takes its place (produced now)."""
        replacement = self.handler.replace(message, output, f"its outcome ({len(output.value)} bytes) was refused: {exc}")
        log.warning("%s[%d]@%d: outcome refused (%s), dead-lettered by reference", message.topic(), message.partition(), message.offset(), exc)
        self.transactions.produce(replacement.topic, replacement.key, replacement.value)
        return replacement

    def _commit(self, batch: _Batch) -> None:
        """Route what is queued ahead (:meth:`_route_ahead`), wait for the side effects, add the offsets,
        commit; on failure see :meth:`_fail`. The handler counts only once the routing ahead is joined."""
        ahead = self._route_ahead(batch)
        if ahead is _DROPPED:
            return
        marks = [time.perf_counter()]  # commit phases: side effects, send_offsets, commit, join, count
        try:
            for wait in batch.waiters:
                wait()
            marks.append(time.perf_counter())
            offsets = next_offsets(batch.messages)
            # bounded on a helper thread, the loop turning meanwhile: past the bound the producer is abandoned
            self.transactions.send_offsets(offsets, self.consumer.consumer_group_metadata(), SEND_OFFSETS_TIMEOUT,
                                           SEND_OFFSETS_TIMEOUT + STALL_GRACE_SECONDS, self.state.turned)
            marks.append(time.perf_counter())
            self._commit_transaction()
        except (RetryLater, TransactionFailed) as failure:
            self._fail(batch, failure, ahead)
            if isinstance(failure, StuckCalls):  # the last resort: the crash-and-restart the transactions are built for
                self.stall_watchdog.on_stall(f"{self.transactions.stuck_producers} abandoned producers still stuck: {failure}")
            return
        marks.append(time.perf_counter())
        seconds = marks[-1] - batch.started
        if ahead is not None and ahead.routing is not None:
            ahead.outputs()  # joined before the handler counts (drift reactions touch the engine it routes with)
        marks.append(time.perf_counter())
        self.state.succeeded()
        self._backoff = 0.0
        self._after_commit(offsets)
        self.handler.committed(batch.messages, batch.outputs, seconds)
        self._ahead = ahead
        marks.append(time.perf_counter())
        if marks[-1] - batch.started > SLOW_TRANSACTION_SECONDS:
            self._log_slow(batch, marks)
        if self._trace is not None:
            self._trace.write(batch.began_at, batch.messages, batch.ahead, batch.chunks, marks, batch.began)

    def _log_slow(self, batch: _Batch, marks: list[float]) -> None:
        """Where a slow transaction's time went (at most one line every ``SLOW_LOG_EVERY`` seconds)."""
        if marks[-1] - self._slow_logged < SLOW_LOG_EVERY:
            return
        self._slow_logged = marks[-1]
        ms = [round((b - a) * 1000) for a, b in zip(marks, marks[1:], strict=False)]
        log.info(
            "slow transaction: %d records in %d ms: fetching, routing and producing %d ms (routing %d ms of it), "
            "then waiting for Redis %d ms, send_offsets %d ms, commit %d ms, joining the routing ahead %d ms, counting %d ms",
            len(batch.messages), round((marks[-1] - batch.started) * 1000), round((marks[0] - batch.started) * 1000),
            round(batch.routing * 1000), *ms,
        )

    def _route_ahead(self, batch: _Batch) -> _Ahead | None:
        """Fetch what is queued now (no wait) and route it on the helper thread while ``batch`` commits.

        Not while bisecting (the next batch's size is what isolates a culprit).
        ``None`` when nothing is queued; ``_DROPPED`` when the partitions were
        revoked during the fetch (``batch`` and the fetch are dropped: not ours to commit).
        """
        if self._limit < self.batch_size:
            return None
        wanted = min(self._limit, self._fetch_size())
        chunk = self._fetch(wanted, 0.0)
        if self._dropped:
            self._drop(batch.messages + chunk)
            return _DROPPED
        if not chunk:
            return None
        if len(chunk) < ROUTE_AHEAD_MIN:
            return _Ahead(chunk, wanted, None)
        return _Ahead(chunk, wanted, self._router.submit(self._route_timed, chunk))

    def _route_timed(self, messages: list[Message]) -> tuple[list[Output], float]:
        started = time.perf_counter()
        outputs = self._route(messages)
        return outputs, time.perf_counter() - started

    def _commit_transaction(self) -> None:
        """Commit; after a timeout (outcome unknown) commit again, for as long as it takes (each call guarded)."""
        while True:
            try:
                with self.stall_watchdog.guard("commit_transaction", COMMIT_TIMEOUT + STALL_GRACE_SECONDS):
                    self.transactions.commit(COMMIT_TIMEOUT)
                return
            except TransactionFailed as failure:
                if failure.kind != "retry_commit" or self._stop.is_set():
                    raise
                log.warning("commit_transaction timed out, its outcome unknown: committing again (%s)", failure)
                self.state.failed(str(failure))
                self.state.turned()

    # -- failures ------------------------------------------------------------------------------

    def _fail(self, batch: _Batch, failure: TransactionFailed | RetryLater, ahead: _Ahead | None = None) -> None:
        """Abort, keep the batch's outputs (and those routed ahead) for the redo, rewind; then fix, bisect or
        wait by the kind of failure."""
        kind = failure.kind if isinstance(failure, TransactionFailed) else "redis"
        error = str(failure)
        log.warning("batch of %d not committed (%s): %s", len(batch.messages), kind, error)
        self.state.failed(error)
        if isinstance(failure, TransactionFailed) and kind == "fatal":
            self.transactions.replace(failure)
        else:
            self.transactions.abort()
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
            self._backoff = MIN_BACKOFF if not self._backoff else min(self._backoff * 2, MAX_BACKOFF)
        self.on_retry(reason)
        self.handler.remember(batch.messages, batch.outputs)
        if ahead is None:
            self._rewind(batch.messages)
            return
        if ahead.routing is not None:
            outputs, _seconds = ahead.outputs()  # routed once: the redo publishes them as they are
            self.handler.remember(ahead.messages, outputs)
        self._rewind(batch.messages + ahead.messages)  # each partition back to its first offset in either

    def _culprits(self, batch: _Batch, failures: list) -> dict[int, str]:
        """Which inputs' outputs the broker refused (matched by topic, key and value)."""
        if not failures:
            return {}
        refused = {(f.topic, f.key, f.value): f.reason for f in failures}
        return {
            index: f"its outcome ({len(output.value)} bytes) was refused by the broker: {refused[key]}"
            for index, output in enumerate(batch.outputs)
            if (key := (output.topic, output.key, output.value)) in refused
        }

    def _bisect(self, batch: _Batch, error: str) -> None:
        """Fetch half as many records next time (each commit doubles it again, up to ``batch_size``);
        one record that still fails alone while the broker answers is dead-lettered by reference."""
        if len(batch.messages) > 1:
            self._limit = max(1, len(batch.messages) // 2)
            log.warning("bisecting: next batches take %d records", self._limit)
            return
        message = batch.messages[0]
        where = (message.topic(), message.partition(), message.offset())
        self._single_failures[where] = attempts = self._single_failures.get(where, 0) + 1
        if attempts >= SINGLE_RECORD_ATTEMPTS and self.transactions.broker_reachable():
            log.warning("%s[%d]@%d fails alone %d times while the broker answers: dead-lettered by reference", *where, attempts)
            batch.outputs[0] = self.handler.replace(message, batch.outputs[0], f"its transaction failed {attempts} times: {error}"[:500])
            del self._single_failures[where]
        else:
            self._backoff = MIN_BACKOFF

    def _after_commit(self, offsets: Sequence[TopicPartition]) -> None:
        self.on_committed_offsets(offsets)
        if self._limit < self.batch_size:  # bisecting: grow back
            self._limit = min(self.batch_size, self._limit * 2)
            if self._limit == self.batch_size:
                self._single_failures.clear()

    def _fail_later(self, reason: str, error: str) -> None:
        self.state.failed(error)
        self.on_retry(reason)
        self._backoff = MIN_BACKOFF if not self._backoff else min(self._backoff * 2, MAX_BACKOFF)

    def _abort_or_replace(self, exc: Exception) -> None:
        if isinstance(exc, TransactionFailed) and exc.kind == "fatal":
            self.transactions.replace(exc)
        else:
            self.transactions.abort()

    def _wait_backoff(self) -> bool:
        """Sleep the backoff (with jitter), turning; ``False`` when stopped meanwhile."""
        delay = self._backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self._stop.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                return False
            self.state.turned()
        return True

    def _rewind(self, messages: Sequence[Message]) -> None:
        """Seek each partition of ``messages`` back to its first offset in them (the committed one); no broker needed."""
        first: dict[tuple[str, int], int] = {}
        for message in messages:
            key = (message.topic(), message.partition())
            first[key] = min(first.get(key, message.offset()), message.offset())
        for (topic, partition), offset in first.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # no longer assigned: its new owner starts from the committed offset
                log.debug("rewind %s[%d]: %s", topic, partition, exc)

    def _drop(self, messages: Sequence[Message]) -> None:
        """Give up what was fetched across a rebalance (not committed; rewound where still ours)."""
        self._dropped = False
        self.transactions.abort()
        self._rewind(messages)

    # -- the consumer --------------------------------------------------------------------------

    def _fetch(self, limit: int, wait: float) -> list[Message]:
        """What is queued, up to ``limit``; wait up to ``wait`` only when nothing is.

        ``consume(n, timeout)`` alone waits the whole timeout unless ``n`` messages
        are there, which at 1k records/s adds its timeout to every record's latency.
        """
        messages = self.consumer.consume(limit, 0)
        if not messages and wait > 0:
            first = self.consumer.poll(wait)
            if first is None:
                return []
            messages = [first, *self.consumer.consume(limit - 1, 0)] if limit > 1 else [first]
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.fatal() or error.code() == KafkaError._FATAL:
                self._replace_consumer(error)
                return []
            else:
                self._log_consumer_error(error)
        return good

    def _log_consumer_error(self, error: KafkaError) -> None:
        now = time.monotonic()
        if now - self._last_consumer_error > 30:  # an outage reports every few seconds; say it twice a minute
            log.warning("consumer: %s", error)
            self._last_consumer_error = now

    def _replace_consumer(self, error: KafkaError) -> None:
        """Rejoin with a new consumer after a fatal consumer error; what is in hand is dropped, not committed.

        librdkafka fences a static member whose session expired (e.g. the broker
        was down longer than ``session.timeout.ms``) and the consumer stays dead
        (librdkafka issue 3437). Nothing was committed through it since, so the
        new consumer resumes at the committed offsets: no loss, no duplicate.
        """
        self.state.failed(f"consumer: {error}")
        self.on_retry("consumer")
        log.warning("fatal consumer error, joining the group again with a new consumer: %s", error)
        if self.transactions.in_transaction:
            self._dropped = True
            self.transactions.abort()
        self.handler.forget(self.assignment)
        self.assignment = []
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("closing the failed consumer: %s", exc)
        self.consumer = self._new_consumer()
        self.consumer.subscribe([self.settings.topics.records], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment = list(partitions)
        log.info("assigned %s", sorted(p.partition for p in partitions))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions leave: abort the open transaction now (their next owner must not wait on it)."""
        log.info("revoked %s", sorted(p.partition for p in partitions))
        if self.transactions.in_transaction:
            self._dropped = True
            self.transactions.abort()
        revoked = {(p.topic, p.partition) for p in partitions}
        self.assignment = [p for p in self.assignment if (p.topic, p.partition) not in revoked]
        self.handler.forget(partitions)

    def _new_consumer(self) -> Consumer:
        return Consumer(
            consumer_config(
                self.settings.kafka,
                self.settings.labeler.group_id,
                **{
                    "fetch.min.bytes": 1,
                    "max.partition.fetch.bytes": 4 * 1024 * 1024,
                    "queued.min.messages": 100_000,
                    # Static membership: a restarted instance takes its partitions back at once;
                    # a dead one is replaced after the session timeout.
                    "group.instance.id": f"{self.settings.labeler.transactional_id}-{self.instance}",
                    "session.timeout.ms": 10_000,
                },
            )
        )

    def _producer_config(self) -> dict:
        labeler = self.settings.labeler
        return producer_config(
            self.settings.kafka,
            **{
                "transactional.id": f"{labeler.transactional_id}-{self.instance}",
                "transaction.timeout.ms": labeler.transaction_timeout_ms,
                "socket.timeout.ms": min(int(SEND_OFFSETS_TIMEOUT * 1000), labeler.transaction_timeout_ms + 100),
                "linger.ms": 1,
                # A transaction that starts while the previous one's markers are still being
                # written gets CONCURRENT_TRANSACTIONS and is retried after retry.backoff.ms:
                # at the default 100 ms, one batch in ten waited 113 ms in
                # send_offsets_to_transaction (measured); at 5 ms, p90 is 8 ms.
                "retry.backoff.ms": 5,
                "retry.backoff.max.ms": 200,
            },
        )


def next_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    """The offset to commit per partition: one past the last message of the batch."""
    last: dict[tuple[str, int], int] = {}
    for msg in messages:
        key = (msg.topic(), msg.partition())
        last[key] = max(last.get(key, -1), msg.offset())
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]
