"""The review work queue in Redis: ranked items, leases, answers, skips and undo.

Every change of an item is one Lua script (``review/lua/*.lua``), so each is
atomic: two reviewers never hold the same item (a claim reads and leases in one
step); an answer leaves the lease, enters the outbox of corrections and marks
the item in one step, so no crash can separate "answer accepted" from "item
marked answered" or from "correction to publish" (:mod:`~labelstream.review.outbox`
publishes the outbox).

Order: highest ``priority`` first, then the oldest request. A reviewer holds one
item at a time and is never served an item they answered or skipped. An overlap
item is served to ``needed`` different reviewers, one after the other; when the
last answer can no longer be undone it is consolidated
(:mod:`~labelstream.review.consolidation`).

A reviewer may correct a recent answer (:meth:`ReviewQueue.correct`); on an
overlap item the new answer replaces their vote, and a consensus already
published is recomputed (superseded if its label changes).

Item states: ``waiting`` -> ``leased`` -> ``done`` (one answer needed), or back to
``waiting`` (overlap: more answers needed; skipped; lease expired), or
``consolidating`` (overlap: all answers in) -> ``done`` or ``waiting`` (adjudication; back to
``consolidating`` with the answers it has if no adjudicator answers within
``review.adjudication_timeout_seconds``).
An admin may set ``expired``. Done and expired items are remembered for
``review.done_keep_seconds``.

A gold instance (:mod:`~labelstream.review.gold`) is an item the claim creates
and leases at once: ``leased`` -> ``done``, or ``expired`` when handed back.

:class:`ReviewQueue` is made of one part a job, over the keys and scripts of
:class:`~labelstream.review.queue_store.QueueStore`: leases
(:mod:`~labelstream.review.leases`), answers (:mod:`~labelstream.review.answering`),
overlap items and experts (:mod:`~labelstream.review.overlap`), housekeeping
(:mod:`~labelstream.review.maintenance`) and reading (:mod:`~labelstream.review.queue_view`).
"""

from __future__ import annotations

import redis

from labelstream.review.answering import Answering
from labelstream.review.leases import Leases
from labelstream.review.maintenance import Maintenance
from labelstream.review.overlap import OverlapRouting
from labelstream.review.queue_counter import QueueCounter
from labelstream.review.queue_store import LeaseConflict
from labelstream.review.queue_view import QueueView
from labelstream.settings import Settings
from labelstream.store.records import RecordStore

__all__ = ["LeaseConflict", "ReviewQueue"]


class ReviewQueue(Leases, Answering, OverlapRouting, Maintenance, QueueView):
    """The queue of one deployment (``redis.key_prefix``); all methods are safe from many threads and processes.

    Its parameters are those of :class:`~labelstream.review.queue_store.QueueStore`; the scripts are loaded
    once, at construction.
    """

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> ReviewQueue:
        review = settings.review
        return cls(
            client,
            settings.redis.key_prefix,
            RecordStore.from_settings(client, settings),
            review.lease_seconds,
            review.undo_seconds,
            review.done_keep_seconds,
            review.answered_keep_seconds,
            review.correct_seconds,
            review.expert_wait_seconds,
            QueueCounter(review.queue_counter_exact_below, review.queue_counter_step),
        )
