"""The labeler's transactional producer: each call's failure classified, a new producer when the old one is dead.

librdkafka reports a failed transactional call as a ``KafkaError`` that is
*retriable* (try the call again), *abortable* (abort, then redo the
transaction) or *fatal* (this producer instance is finished: fenced by a newer
epoch, or broken). :class:`Transactions` turns every failure into one
:class:`TransactionFailed` with a ``kind`` the loop acts on:

- ``transient``: the broker or the coordinator is away (timeouts, transport,
  coordinator moving, a message that timed out): abort, wait, redo;
- ``rebalance``: the consumer group moved on (the offsets cannot be committed
  under this generation): abort, redo under the new assignment;
- ``redo``: the idempotent producer's sequence was reset after an aborted
  transaction (librdkafka bumps the epoch): abort and redo at once;
- ``abortable``: the transaction failed for a reason that may lie in its
  content (the loop looks for the message at fault, see ``delivery_failures``);
- ``fatal``: this producer is done; :meth:`Transactions.ensure_ready` makes a
  new one, whose ``init_transactions`` aborts whatever the old one left open;
- ``retry_commit``: ``commit_transaction`` timed out and its outcome is not
  known: commit again (aborting and redoing could publish a batch twice).

A single message the client refuses outright (larger than ``message.max.bytes``)
raises :class:`MessageRejected` from :meth:`Transactions.produce`: the
transaction goes on without it. Messages the broker refuses after the fact
(e.g. over the topic's ``max.message.bytes``) are kept in
:meth:`Transactions.take_delivery_failures` for the loop to name the culprit.

``send_offsets_to_transaction`` can block past its timeout for as long as the
group coordinator is away (librdkafka issue 5456): :meth:`Transactions.send_offsets`
waits for it at most a bound (:mod:`labelstream.kafka.bounded`); a call that
overstays *abandons* the producer, stuck call and all, and raises ``transient``:
the next :meth:`Transactions.ensure_ready` makes a new producer with the same
transactional id, whose ``init_transactions`` (once the broker answers) fences
the abandoned one and aborts its transaction, as for a zombie process. The
process goes on (no restart); an abandoned producer is dropped once its call
returns, which librdkafka may never do (its coordinator request is retried only
on a broker's state change: one test run saw it return seconds after the
broker came back, another not within a minute), so each can cost a thread and
an idle client for the life of the process. More than ``max_abandoned`` still
stuck at once fails the batch with :class:`StuckCalls` and the loop restarts
the process in place (the last resort, which frees them).

A producer that keeps being fenced means another process uses the same
transactional id: after ``max_fencings`` within ``fencing_window`` seconds
:class:`DuplicateInstance` ends the process rather than fencing it back.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from labelstream.errors import LabelstreamError
from labelstream.kafka.bounded import BoundedCaller, CallOverstayed

log = logging.getLogger("labelstream.labeler.transactions")

# Our own abort emptied the client's queue: not an answer of the broker.
PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
# The broker refused the message for what it is: no retry can succeed.
CONTENT_ERRORS = frozenset({
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.INVALID_RECORD,
    KafkaError.INVALID_MSG,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.POLICY_VIOLATION,
    KafkaError.INVALID_TIMESTAMP,
})
# The consumer group moved on: offsets of this generation cannot be committed.
GROUP_ERRORS = frozenset({
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.FENCED_INSTANCE_ID,
})
# The idempotent producer's sequence after an aborted transaction whose messages the broker refused:
# librdkafka bumps the epoch and the next transaction goes through (measured: one failure, then fine).
REDO_ERRORS = frozenset({KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, KafkaError.UNKNOWN_PRODUCER_ID})
# This producer instance is finished.
FENCED_ERRORS = frozenset({KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH, KafkaError._FENCED})
FATAL_ERRORS = FENCED_ERRORS | {KafkaError._FATAL, KafkaError._STATE, KafkaError.INVALID_TXN_STATE}


class TransactionFailed(Exception):
    """A transactional call failed; ``kind`` says what to do (see the module docstring)."""

    def __init__(self, kind: str, error: KafkaError | None, call: str) -> None:
        self.kind = kind
        self.code = None if error is None else error.code()
        self.error = error
        self.call = call
        super().__init__(f"{call}: {kind}: {error}")


class StuckCalls(TransactionFailed):
    """Too many abandoned producers still have a call stuck in the client: fail the batch, then restart (the last resort)."""


class MessageRejected(Exception):
    """The client refused one message (e.g. larger than ``message.max.bytes``); the transaction is intact."""


class DuplicateInstance(LabelstreamError):
    """Fenced again and again: another process has this transactional id."""


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """A produced message the broker did not take: its topic, key and value, and why."""

    topic: str
    key: bytes | None
    value: bytes | None
    code: int
    reason: str

    @property
    def content(self) -> bool:
        """The broker refused the message itself (not a timeout or an outage)."""
        return self.code in CONTENT_ERRORS


def classify(error: KafkaError) -> str:
    """``fatal``, ``rebalance``, ``redo``, ``transient`` or ``abortable`` for a failed transactional call."""
    code = error.code()
    if error.fatal() or code in FATAL_ERRORS:
        return "fatal"
    if code in GROUP_ERRORS:
        return "rebalance"
    if code in REDO_ERRORS:
        return "redo"
    if error.txn_requires_abort() and not error.retriable() and code not in (KafkaError._TIMED_OUT, KafkaError._MSG_TIMED_OUT):
        return "abortable"
    return "transient"


class Transactions:
    """One transactional producer at a time, replaced when it dies.

    Parameters
    ----------
    config
        The producer configuration (with ``transactional.id``).
    factory
        Makes the producer (tests inject failures with a subclass).
    max_fencings, fencing_window
        More fencings than this within the window end the process (:class:`DuplicateInstance`).
    """

    def __init__(
        self,
        config: dict[str, Any],
        factory: Callable[[dict[str, Any]], Producer] = Producer,
        max_fencings: int = 3,
        fencing_window: float = 600.0,
        max_abandoned: int = 8,
    ) -> None:
        self.transactional_id = config.get("transactional.id", "")
        self._config = {**config, "on_delivery": self._on_delivery, "delivery.report.only.error": True}
        self._factory = factory
        self.max_fencings = max_fencings
        self.fencing_window = fencing_window
        self._producer: Producer | None = None
        self._initialized = False
        self._needs_abort = False
        self.in_transaction = False
        self.producers_created = 0
        self._fencings: deque[float] = deque()
        self._delivery_failures: list[DeliveryFailure] = []
        self._caller: BoundedCaller | None = None  # the current producer's send_offsets thread
        self._abandoned: list[tuple[Producer, BoundedCaller]] = []  # their calls still stuck in the client
        self.max_abandoned = max_abandoned
        self.producers_abandoned = 0

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._producer is not None and self._initialized and not self._needs_abort

    def ensure_ready(self, timeout: float) -> bool:
        """Make and initialize a producer as needed; ``False`` when the broker does not answer yet.

        A producer whose abort failed is replaced rather than asked again: after an
        outage an abort can keep timing out for a minute after the broker is back
        (measured), while a new producer's ``init_transactions`` aborts what was open
        as soon as the coordinator answers.
        """
        if self._needs_abort:
            self.replace()
        self._reap_abandoned()
        if self._producer is None:
            self._producer = self._factory(self._config)
            self._caller = BoundedCaller("send-offsets")
            self._initialized = False
            self.producers_created += 1
        try:
            if not self._initialized:
                self._producer.init_transactions(timeout)
                self._initialized = True
                self.in_transaction = False
        except KafkaException as exc:
            # The client's lines of the wait (with a logger in its config) are served now rather than at the first
            # commit after the outage: at most one wait's worth late, instead of stderr's ~9 lines a second.
            self._producer.poll(0)
            failure = self._failure(exc, "init_transactions")
            if failure.kind == "fatal":
                self.replace(failure)
            log.warning("producer not ready yet: %s", failure)
            return False
        return True

    def replace(self, failure: TransactionFailed | None = None) -> None:
        """Drop this producer; the next :meth:`ensure_ready` makes a new one (its init aborts what was left open)."""
        if failure is not None and failure.code in FENCED_ERRORS:
            now = time.monotonic()
            self._fencings.append(now)
            while self._fencings and now - self._fencings[0] > self.fencing_window:
                self._fencings.popleft()
            if len(self._fencings) >= self.max_fencings:
                raise DuplicateInstance(
                    f"fenced {len(self._fencings)} times in {self.fencing_window:.0f} s: another labeler runs with "
                    f"transactional id {self.transactional_id!r} (give each labeler its own --instance)"
                )
        log.warning("replacing the transactional producer (%s)", failure)
        producer, self._producer = self._producer, None
        if self._caller is not None:
            self._caller.close()
            self._caller = None
        self._initialized = self._needs_abort = self.in_transaction = False
        if producer is not None:
            try:
                producer.purge()
            except (KafkaException, RuntimeError) as exc:  # a fatal producer may refuse; it is dropped anyway
                log.debug("purging the old producer: %s", exc)

    def close(self, timeout: float = 10.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout)
        if self._caller is not None:
            self._caller.close()

    # -- one transaction -----------------------------------------------------------------------

    def begin(self) -> None:
        self._call("begin_transaction", lambda p: p.begin_transaction())
        self.in_transaction = True
        self._delivery_failures.clear()

    def produce(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue one message into the open transaction (serving delivery reports while the queue is full)."""
        producer = self._producer
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                return
            except BufferError:
                producer.poll(0.05)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() in CONTENT_ERRORS:
                    raise MessageRejected(str(error)) from exc
                raise self._failure(exc, "produce") from exc

    def produce_many(self, messages: Sequence[Any]) -> dict[int, MessageRejected]:
        """Queue messages (each with ``topic``, ``key``, ``value``) into the open transaction, in order; the ones
        the client refused outright, by index (the transaction goes on without them).

        One loop calling the client's ``produce`` directly: 1.0-1.4 us a message
        against ~3 us through :meth:`produce` a message (two Python calls and
        keyword arguments; measured in process). A message the fast call does
        not take (queue full, refused, ...) goes through :meth:`produce`, which
        waits for room, names a refusal or raises :class:`TransactionFailed`.
        """
        produce = self._producer.produce
        refused: dict[int, MessageRejected] = {}
        for index, message in enumerate(messages):
            try:
                produce(message.topic, message.value, message.key)
            except (BufferError, KafkaException):  # not queued: the careful path decides
                try:
                    self.produce(message.topic, message.key, message.value)
                except MessageRejected as exc:
                    refused[index] = exc
        return refused

    def send_offsets(
        self,
        offsets: Sequence[TopicPartition],
        group_metadata: object,
        timeout: float,
        limit: float,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        """Add the offsets to the transaction, waiting at most ``limit`` s (``on_wait`` about every second).

        Past ``limit`` the producer is abandoned (see the module docstring) and
        this raises kind ``transient``: abort (nothing left to abort), back off,
        redo the batch with a new producer."""
        try:
            self._caller.call(self._producer.send_offsets_to_transaction, offsets, group_metadata, timeout,
                              limit=limit, on_wait=on_wait)
        except KafkaException as exc:
            raise self._failure(exc, "send_offsets_to_transaction") from exc
        except CallOverstayed as exc:
            failure = TransactionFailed if self._abandon(str(exc)) <= self.max_abandoned else StuckCalls
            raise failure("transient", None, f"send_offsets_to_transaction stuck ({exc}; librdkafka 5456)") from exc

    def commit(self, timeout: float) -> None:
        """Commit. A retriable failure (a timeout: the outcome is not known yet) raises kind ``retry_commit``:
        call :meth:`commit` again, never abort, or a batch the broker did commit would be redone."""
        try:
            self._producer.commit_transaction(timeout)
            self.in_transaction = False
        except KafkaException as exc:
            failure = self._failure(exc, "commit_transaction")
            error = failure.error
            if error is not None and error.retriable() and not error.txn_requires_abort() and failure.kind != "fatal":
                failure.kind = "retry_commit"
            raise failure from exc

    def abort(self, timeout: float = 10.0) -> None:
        """Abort what is open; never raises (after a failed abort, the next :meth:`ensure_ready` replaces the producer)."""
        if self._producer is None or not self.in_transaction:
            self.in_transaction = False
            return
        try:
            self._producer.abort_transaction(timeout)
            self.in_transaction = False
        except KafkaException as exc:
            failure = self._failure(exc, "abort_transaction")
            if failure.kind == "fatal":
                self.replace(failure)
            else:
                log.warning("abort_transaction: %s; the producer will be replaced", failure)
                self._needs_abort = True

    @property
    def stuck_producers(self) -> int:
        """Abandoned producers whose stuck call has not returned yet."""
        self._reap_abandoned()
        return len(self._abandoned)

    def take_delivery_failures(self) -> list[DeliveryFailure]:
        failures, self._delivery_failures = self._delivery_failures, []
        return failures

    def broker_reachable(self, timeout: float = 5.0) -> bool:
        """Whether the cluster answers a metadata request now."""
        if self._producer is None:
            return False
        try:
            self._producer.list_topics(timeout=timeout)
            return True
        except KafkaException:
            return False

    # -- internals -----------------------------------------------------------------------------

    def _abandon(self, why: str) -> int:
        """Leave this producer to its stuck call (the next :meth:`ensure_ready` makes a new one that fences it);
        how many abandoned producers are still stuck."""
        producer, caller = self._producer, self._caller
        self._producer = self._caller = None
        self._initialized = self._needs_abort = self.in_transaction = False
        self.producers_abandoned += 1
        try:
            producer.purge(in_queue=True, in_flight=False, blocking=False)  # its queued outputs never go out
        except (KafkaException, RuntimeError) as exc:
            log.debug("purging the abandoned producer: %s", exc)
        self._abandoned.append((producer, caller))
        log.warning("abandoned the transactional producer: %s; a new one will fence it", why)
        return self.stuck_producers

    def _reap_abandoned(self) -> None:
        """Drop the abandoned producers whose stuck call has returned (fenced, or timed out at last)."""
        if self._abandoned:
            self._abandoned = [(producer, caller) for producer, caller in self._abandoned if not caller.finished()]

    def _call(self, name: str, call: Callable[[Producer], None]) -> None:
        try:
            call(self._producer)
        except KafkaException as exc:
            raise self._failure(exc, name) from exc

    @staticmethod
    def _failure(exc: KafkaException, call: str) -> TransactionFailed:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        kind = "transient" if error is None else classify(error)
        return TransactionFailed(kind, error, call)

    def _on_delivery(self, error: KafkaError | None, msg: Any) -> None:  # noqa: ANN401 - a confluent_kafka Message
        # A purge is our own abort emptying the queue (its outputs are redone), not the broker's answer:
        # counted, it made an injected abortable failure look like an outage (backoff, no bisecting).
        if error is not None and error.code() not in PURGED:
            self._delivery_failures.append(DeliveryFailure(msg.topic(), msg.key(), msg.value(), error.code(), error.str()))
