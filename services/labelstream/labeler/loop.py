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

When a batch does not commit, :class:`~labelstream.labeler.recovery.Recovery`
aborts and rewinds it, then fixes its culprit, bisects it or waits, by the kind
of failure; :class:`~labelstream.labeler.consumer.GroupConsumer` fetches and
follows rebalances; :mod:`labelstream.labeler.batch` holds what a transaction
carries and the handler's protocol.

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
import threading
import time
from collections.abc import Callable, Sequence

from confluent_kafka import Message, TopicPartition

from labelstream.kafka.config import producer_config
from labelstream.labeler.batch import DROPPED, Ahead, Batch, BatchHandler, Output, Retried, RetryLater, next_offsets
from labelstream.labeler.consumer import KAFKA_LOGGER, GroupConsumer
from labelstream.labeler.health import LoopState
from labelstream.labeler.recovery import MIN_BACKOFF, Recovery
from labelstream.labeler.routing import Routing
from labelstream.labeler.trace import TransactionTrace
from labelstream.labeler.transactions import MessageRejected, StuckCalls, TransactionFailed, Transactions
from labelstream.log_repeats import client_logger
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
# ... but at most this after a failed init_transactions: the call itself already waited INIT_TIMEOUT (the broker
# answers nothing, or "not coordinator" while it loads), so a doubling backoff on top only delays the first attempt
# after the coordinator is back (cycles of 10 + 10 s measured after a broker restart: up to 20 s lost).
INIT_RETRY_BACKOFF = 1.0
# Fewer records queued at a commit are routed after it on the loop's thread, not ahead on the helper thread:
# routing them takes less than the two thread hand-offs, which under CPU contention cost milliseconds each.
ROUTE_AHEAD_MIN = 64
# A transaction that takes longer than this, first begin to counted, is logged with where its time went
# (at most one line every SLOW_LOG_EVERY seconds): what a latency tail is made of.
SLOW_TRANSACTION_SECONDS = 0.5
SLOW_LOG_EVERY = 10.0


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
        self.consumer = GroupConsumer(settings, instance, self.transactions, handler, self.state, on_retry)
        self.stall_watchdog = StallWatchdog(on_stall)
        self._stop = threading.Event()
        self.recovery = Recovery(self.transactions, self.consumer, handler, self.state, on_retry, self.batch_size, self._stop)
        self.routing = Routing(handler, self.batch_size, self.commit_interval)
        self._ahead: Ahead | None = None
        self._slow_logged = 0.0
        self._trace = TransactionTrace(labeler.trace_file) if labeler.trace_file else None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Initialize the producer (retrying while the broker is away) and join the group."""
        self.init_producer()
        self.consumer.subscribe()
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

    @property
    def assignment(self) -> list[TopicPartition]:
        """The partitions this instance holds now."""
        return self.consumer.assignment

    def close(self) -> None:
        """Abort what is open and leave the group."""
        self.routing.shutdown()
        self._ahead = None  # routed, never published: fetched again from the committed offsets
        self.transactions.abort(10)
        self.consumer.close()
        self.transactions.close(10)
        if self._trace is not None:
            self._trace.close()

    # -- the cycle -----------------------------------------------------------------------------

    def run_cycle(self) -> None:
        """One batch: collect, commit, count (see the module docstring); a batch a Kafka client's error broke
        midway is given up (:meth:`_start_afresh`)."""
        try:
            self._cycle()
        except SystemError as exc:
            self._start_afresh(exc)

    def _start_afresh(self, exc: SystemError) -> None:
        """confluent-kafka can leave an exception pending in a callback it cannot raise from (:mod:`labelstream.kafka.client_errors`); it surfaces as a ``SystemError`` at
        some later call, wherever the batch then stood. Nothing of it is trusted: the open transaction is
        aborted, what was routed ahead dropped, and a new consumer resumes at the committed offsets, so a
        batch that did commit is not redone and one that did not is. Seen once in the fault suite after a
        broker outage (the labeler exited); the process goes on instead."""
        log.error("a Kafka client left an exception pending (%r, from %r): the batch is given up and the labeler "
                  "resumes at the committed offsets", exc, exc.__cause__)
        self._ahead = None
        self.state.failed(f"kafka client: {exc!r}")
        self.transactions.abort()
        self.consumer.rejoin(f"after {type(exc).__name__}")

    def _cycle(self) -> None:
        self.state.turned()
        recovery = self.recovery
        if recovery.backoff and not recovery.wait_backoff():
            return
        if not self.transactions.ready:
            with self.stall_watchdog.guard("init_transactions", INIT_TIMEOUT + STALL_GRACE_SECONDS):
                if not self.transactions.ensure_ready(INIT_TIMEOUT):
                    recovery.failed_later("producer", "the broker does not answer (init_transactions)")
                    recovery.backoff = min(recovery.backoff, INIT_RETRY_BACKOFF)
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
            self.recovery.abort_or_replace(exc)
            return False
        return True

    def _collect(self) -> Batch | None:
        """Fetch, route and produce what is queued; commit once it is in (group commit).

        One fetch takes what was queued, up to a size whose routing fits in
        ``commit_interval_ms`` (:meth:`Routing.fetch_size`): what arrives meanwhile
        waits for the next transaction, so a record waits for at most one
        transaction besides its own. At 1k records/s a transaction carries the
        few records that came during the last commit; at 50k/s a full batch.
        A fetch that came back full goes on (more may be queued) until the
        batch is full or its time is up; so does a batch that begins with what
        was fetched ahead during the last commit (what came during the commit
        is queued behind it).
        """
        batch = Batch(began=time.perf_counter(), began_at=time.time())
        wait = self.max_wait
        ahead, self._ahead = self._ahead, None
        consumer, recovery, routing = self.consumer, self.recovery, self.routing
        while len(batch.messages) < recovery.limit:
            if ahead is not None:  # fetched (and routed, unless a few) while the last batch committed
                chunk, wanted = ahead.messages, ahead.wanted
                if ahead.routing is None:
                    began = time.perf_counter()
                    outputs = routing.route(chunk)
                else:
                    outputs, routed = ahead.outputs()
                    began = time.perf_counter() - routed
                ahead = None
                batch.ahead = len(chunk)
                took_all = False  # what came during the commit is queued behind it: fetch on
            else:
                wanted = min(recovery.limit - len(batch.messages), routing.fetch_size())
                chunk = consumer.fetch(wanted, wait)
                if consumer.dropped:  # partitions were revoked meanwhile: what we hold is not ours to commit
                    consumer.drop(batch.messages + chunk)
                    return None
                if not chunk:
                    break
                began = time.perf_counter()
                outputs = routing.route(chunk)
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
                recovery.failed(batch, failure)
                return None
            batch.add(chunk, outputs)
            now = time.perf_counter()
            batch.routing += now - began
            batch.chunks.append((len(chunk), now - began))
            routing.observe(len(chunk), now - began)
            if took_all or now - batch.started >= self.commit_interval:
                break  # took all that was queued, or its time is up: commit now
            wait = 0.0
        return batch

    def _rejected(self, message: Message, output: Output, exc: MessageRejected) -> Output:
        """An output the client refused outright: a dead letter by reference takes its place (produced now)."""
        replacement = self.handler.replace(message, output, f"its outcome ({len(output.value)} bytes) was refused: {exc}")
        log.warning("%s[%d]@%d: outcome refused (%s), dead-lettered by reference", message.topic(), message.partition(), message.offset(), exc)
        self.transactions.produce(replacement.topic, replacement.key, replacement.value)
        return replacement

    def _commit(self, batch: Batch) -> None:
        """Route what is queued ahead (:meth:`_route_ahead`), wait for the side effects, add the offsets,
        commit; on failure see :meth:`Recovery.failed`. The handler counts only once the routing ahead is joined."""
        ahead = self._route_ahead(batch)
        if ahead is DROPPED:
            return
        marks = [time.perf_counter()]  # commit phases: side effects, send_offsets, commit, join, count
        try:
            for wait in batch.waiters:
                wait()
            marks.append(time.perf_counter())
            offsets = next_offsets(batch.messages)
            # bounded on a helper thread, the loop turning meanwhile: past the bound the producer is abandoned
            self.transactions.send_offsets(offsets, self.consumer.group_metadata(), SEND_OFFSETS_TIMEOUT,
                                           SEND_OFFSETS_TIMEOUT + STALL_GRACE_SECONDS, self.state.turned)
            marks.append(time.perf_counter())
            self._commit_transaction()
        except (RetryLater, TransactionFailed) as failure:
            self.recovery.failed(batch, failure, ahead)
            if isinstance(failure, StuckCalls):  # the last resort: the crash-and-restart the transactions are built for
                self.stall_watchdog.on_stall(f"{self.transactions.stuck_producers} abandoned producers still stuck: {failure}")
            return
        marks.append(time.perf_counter())
        seconds = marks[-1] - batch.started
        if ahead is not None and ahead.routing is not None:
            ahead.outputs()  # joined before the handler counts (drift reactions touch the engine it routes with)
        marks.append(time.perf_counter())
        self.state.succeeded()
        self.recovery.committed()
        self.on_committed_offsets(offsets)
        self.handler.committed(batch.messages, batch.outputs, seconds)
        self._ahead = ahead
        marks.append(time.perf_counter())
        if marks[-1] - batch.started > SLOW_TRANSACTION_SECONDS:
            self._log_slow(batch, marks)
        if self._trace is not None:
            self._trace.write(batch.began_at, batch.messages, batch.ahead, batch.chunks, marks, batch.began)

    def _log_slow(self, batch: Batch, marks: list[float]) -> None:
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

    def _route_ahead(self, batch: Batch) -> Ahead | None:
        """Fetch what is queued now (no wait) and route it on the helper thread while ``batch`` commits.

        Not while bisecting (the next batch's size is what isolates a culprit).
        ``None`` when nothing is queued; ``DROPPED`` when the partitions were
        revoked during the fetch (``batch`` and the fetch are dropped: not ours to commit).
        """
        if self.recovery.bisecting:
            return None
        wanted = min(self.recovery.limit, self.routing.fetch_size())
        chunk = self.consumer.fetch(wanted, 0.0)
        if self.consumer.dropped:
            self.consumer.drop(batch.messages + chunk)
            return DROPPED
        if not chunk:
            return None
        if len(chunk) < ROUTE_AHEAD_MIN:
            return Ahead(chunk, wanted, None)
        return Ahead(chunk, wanted, self.routing.submit(chunk))

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
                "logger": client_logger(KAFKA_LOGGER),  # served by its commits and by a failed init's poll
            },
        )

