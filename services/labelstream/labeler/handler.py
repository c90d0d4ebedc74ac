"""The labeler's side of the transaction loop: route a batch, store what the learner needs, count what committed.

:class:`RoutingHandler` is the :class:`~labelstream.labeler.batch.BatchHandler`
of the labeler. It routes with the core's :class:`BatchRouter`, stores the
reviewed and deferred records in Redis before the commit (the learner joins a
human answer with them), and counts only after the commit: outcomes, dead
letters, latency and the Redis review-backlog counter. A batch that did not
commit is remembered (its outcomes by input offset), so that its redo
publishes the same outcomes without routing again: the policy's budget and
random draws, the drift detectors and every counter see each record once,
however often its batch is retried.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat

import orjson
import redis
from confluent_kafka import Message, TopicPartition

from labelstream.core.constructor import slots_constructor
from labelstream.core.router import DEAD_LETTER, BatchRouter, Origin, Outcome
from labelstream.drift_handling import DriftHandler
from labelstream.labeler.batch import RetryLater
from labelstream.metrics import Metrics
from labelstream.store.records import RecordStore, StoredRecord

log = logging.getLogger("labelstream.labeler")

# Fewer records than this are stored in Redis on the loop's thread: one round trip costs less than the hand-off
# to the writer thread and back, which under CPU contention costs milliseconds (low rates: small batches).
STORE_INLINE_MAX = 64

Where = tuple[str, int, int]
"""(topic, partition, offset) of an input message."""


def _noop() -> None:
    return None


class RoutingHandler:
    """Routes, stores and counts for the labeler's transaction loop.

    Parameters
    ----------
    router
        Turns raw values into outcomes.
    store
        Redis: routed records (for the learner's join) and the review-backlog counter.
    metrics, drift
        Updated after each commit.
    store_auto_labeled
        Also keep auto-labeled records in Redis.
    store_auto_from
        Also keep the auto-labeled records scored at least this (self-training: the learner learns them).
    between_batches
        Called by the loop outside any transaction (model swaps, relabel).
    """

    def __init__(
        self,
        router: BatchRouter,
        store: RecordStore,
        metrics: Metrics,
        drift: DriftHandler,
        store_auto_labeled: bool = False,
        between_batches: Callable[[], None] = _noop,
        store_auto_from: float | None = None,
    ) -> None:
        self.router = router
        self.store = store
        self.metrics = metrics
        self.drift = drift
        self.store_auto_labeled = store_auto_labeled
        self.store_auto_from = 2.0 if store_auto_from is None else store_auto_from  # above any score: none
        self._between_batches = between_batches
        # Redis writes overlap the Kafka produce calls (the thread waits on the socket, not the GIL).
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redis-writer")
        self._kept: dict[Where, Outcome] = {}
        self._unqueued: dict[str, float] = {}  # committed deferred ids not in the relabel queue yet (Redis away)
        self.routed = Counter[str]()

    # -- BatchHandler --------------------------------------------------------------------------

    def route(self, messages: Sequence[Message]) -> list[Outcome]:
        if self._kept:
            return self._route_with_kept(messages)
        return self._route(messages)

    def _route(self, messages: Sequence[Message]) -> list[Outcome]:
        values = list(map(Message.value, messages))  # the client's getters mapped in C: no Python call a message
        keys = list(map(Message.key, messages))
        return self.router.route(values, keys, _origins(messages))

    def _route_with_kept(self, messages: Sequence[Message]) -> list[Outcome]:
        """A redo: outcomes already decided for these offsets are published again as they were."""
        kept = [self._kept.get((m.topic(), m.partition(), m.offset())) for m in messages]
        new = [m for m, outcome in zip(messages, kept, strict=True) if outcome is None]
        routed = iter(self._route(new)) if new else iter(())
        return [outcome if outcome is not None else next(routed) for outcome in kept]

    def prepare(self, outputs: Sequence[Outcome]) -> Callable[[], None]:
        """Store the records the learner will need (on the writer thread, or at once when a few); the waiter raises
        RetryLater if Redis fails."""
        stored = list(map(_stored, self._to_store(outputs)))
        if not stored:
            return _noop
        if len(stored) < STORE_INLINE_MAX:
            return self._store_now(stored)
        future = self._writer.submit(self.store.put_many, stored, False, False)  # counted and queued after the commit

        def wait() -> None:
            try:
                future.result()
            except redis.RedisError as exc:
                raise RetryLater(f"redis: {exc}") from exc

        return wait

    def _store_now(self, stored: list[StoredRecord]) -> Callable[[], None]:
        """A few records stored on the loop's thread; the waiter raises what Redis raised."""
        try:
            self.store.put_many(stored, False, False)
        except redis.RedisError as exc:
            failure = RetryLater(f"redis: {exc}")
            failure.__cause__ = exc

            def fail() -> None:
                raise failure

            return fail
        return _noop

    def replace(self, message: Message, output: Outcome | None, reason: str) -> Outcome:
        """A dead letter by reference. A dead letter that could not be published keeps its kind and error;
        any other outcome becomes kind ``unpublishable`` (or ``routing_error`` when routing raised)."""
        kind, error = ("unpublishable" if output is not None else "routing_error"), reason
        if output is not None and output.outcome == DEAD_LETTER:
            kind, error = output.reason, f"{orjson.loads(output.value)['error']} (carried by reference: {reason})"[:1000]
        return self.router.dead_letter(message.value(), message.key(), _origin(message), kind, error, by_reference=True)

    def committed(self, messages: Sequence[Message], outputs: Sequence[Outcome], seconds: float) -> None:
        if self._kept:
            for m in messages:
                self._kept.pop((m.topic(), m.partition(), m.offset()), None)
        # Counted by Counter (in C) over comprehensions, each in the order first seen, as a loop a record counted
        # them. A comprehension reads a slot attribute faster than attrgetter mapped in C (specialized attribute
        # loads, no getattr call): 0.25 vs 0.34 us a record for the pairs, 0.14 vs 0.40 for the auto-labels' classes.
        counts = Counter([(o.outcome, o.reason) for o in outputs])
        outcomes = Counter({key: n for key, n in counts.items() if key[0] != DEAD_LETTER})
        invalid = {reason: n for (outcome, reason), n in counts.items() if outcome == DEAD_LETTER}
        auto_classes: Counter[str] = Counter()
        for label, n in Counter([o.routed.prediction.label for o in outputs if o.outcome == "label"]).items():
            auto_classes[label or ""] += n  # a class at a time; no label counts as ""
        evolved = sum([o.evolved for o in outputs])
        metrics = self.metrics
        metrics.record_received(len(messages))
        metrics.record_outcomes(outcomes)
        metrics.record_auto_labels(auto_classes)
        for kind, n in invalid.items():
            metrics.record_invalid(kind, n)
        if evolved:
            metrics.record_evolved(evolved)
        metrics.observe_batch(len(messages), seconds, [o.event_time for o in outputs])
        for (outcome, _reason), n in outcomes.items():
            self.routed[outcome] += n
        total = sum(self.routed.values())
        metrics.set_review_budget_used(self.routed["review"] / total if total else 0.0)
        reviews = sum(n for (outcome, _reason), n in outcomes.items() if outcome == "review")
        deferred = {o.routed.record.id: o.routed_at for o in outputs if o.outcome == "deferred" and o.routed is not None}
        if reviews or deferred:
            self._writer.submit(self._count_and_queue, reviews, deferred)  # one Redis round trip
        self.drift.handle(self.router.engine)

    def remember(self, messages: Sequence[Message], outputs: Sequence[Outcome]) -> None:
        for m, output in zip(messages, outputs, strict=True):
            self._kept[(m.topic(), m.partition(), m.offset())] = output

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        if not self._kept:
            return
        gone = {(p.topic, p.partition) for p in partitions}
        self._kept = {where: o for where, o in self._kept.items() if (where[0], where[1]) not in gone}

    def between_batches(self) -> None:
        self._between_batches()

    # -- helpers -------------------------------------------------------------------------------

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    def _count_and_queue(self, reviews: int, waiting_since: dict[str, float]) -> None:
        """After the commit, in one Redis round trip: the review-backlog counter (approximate across crashes: a
        crash or Redis away here skips it) and the deferred records into the relabel queue (a crash or Redis away
        here: they stay deferred, never relabeled twice; relabel is at most once, RELIABILITY.md). Runs on the
        writer thread; with Redis away, the deferred ids wait for the next commit's call."""
        self._unqueued.update(waiting_since)
        try:
            self.store.count_and_queue(reviews, self._unqueued)
        except redis.RedisError as exc:
            log.warning("review backlog counter not updated (+%d), %d deferred records not queued for relabel yet: %s",
                        reviews, len(self._unqueued), exc)
            return
        self._unqueued = {}

    def _to_store(self, outputs: Sequence[Outcome]) -> list[Outcome]:
        """The routed outcomes whose records the learner needs, in order: every review and deferred one, and the
        auto-labels when asked (all, or those scored at least ``store_auto_from``).

        Without auto-labels (the default) the outcome alone decides: one test a record instead of up to five
        attribute reads (the auto-labels are ~85 % of a batch).
        """
        if not self.store_auto_labeled and self.store_auto_from > 1.0:  # no score reaches it: no auto-label
            return [o for o in outputs if o.outcome != "label" and o.routed is not None]
        return [o for o in outputs if o.routed is not None and (
            o.outcome != "label" or self.store_auto_labeled or o.routed.prediction.confidence >= self.store_auto_from)]


def _stored(outcome: Outcome) -> StoredRecord:
    """What the learner needs of a routed record (the StoredRecord its ``__init__`` would make, at half the cost)."""
    routed = outcome.routed
    record, prediction, decision = routed.record, routed.prediction, routed.decision
    return _make_stored(
        record.id, record.features, decision.outcome, decision.reason, prediction.probabilities,
        decision.inclusion_probability, outcome.model_version, outcome.routed_at, outcome.record_json, decision.context,
    )


def _origin(message: Message) -> Origin:
    kind, ms = message.timestamp()
    return Origin(message.topic(), message.partition(), message.offset(), ms / 1000 if kind else None)


def _origins(messages: Sequence[Message]) -> list[Origin]:
    """:func:`_origin` of each message: the getters mapped in C, the tuples made without ``Origin.__new__``'s call."""
    stamps = [ms / 1000 if kind else None for kind, ms in map(Message.timestamp, messages)]
    places = zip(map(Message.topic, messages), map(Message.partition, messages), map(Message.offset, messages), stamps,
                 strict=True)
    return list(map(_new_tuple, repeat(Origin), places))


_new_tuple = tuple.__new__
_make_stored = slots_constructor(StoredRecord)
