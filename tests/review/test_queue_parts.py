"""Each part of the review queue works on its own over the shared keys and scripts (the real Redis).

The rules themselves are tested through :class:`ReviewQueue` in ``test_review_queue.py``;
here each part is built alone, as the queue's modules promise: leases
(``review/leases.py``), answers (``review/answering.py``), overlap and experts
(``review/overlap.py``), housekeeping (``review/maintenance.py``), reading
(``review/queue_view.py``), over :class:`QueueStore` (``review/queue_store.py``).
"""

from __future__ import annotations

import uuid

import pytest
import redis
from review_support import request

from labelstream.review.answering import Answering
from labelstream.review.items import QueueItem
from labelstream.review.leases import Leases
from labelstream.review.maintenance import Maintenance
from labelstream.review.overlap import OverlapRouting
from labelstream.review.queue_store import LeaseConflict, QueueStore
from labelstream.review.queue_view import QueueView
from labelstream.store.records import RecordStore

pytestmark = pytest.mark.integration


@pytest.fixture
def parts(redis_up) -> dict[type[QueueStore], QueueStore]:
    client = redis.Redis.from_url(redis_up.redis.url)
    prefix = f"q{uuid.uuid4().hex[:8]}"
    records = RecordStore(client, prefix, 3600)
    kinds = (Leases, Answering, OverlapRouting, Maintenance, QueueView)
    return {kind: kind(client, prefix, records, lease_seconds=60.0, undo_seconds=0.0) for kind in kinds}


def enqueue(leases: Leases, *ids: str, overlap: float = 0.0) -> None:
    batch = [QueueItem.from_request(request(i, 0.5, 1.0).model_dump_json().encode(), overlap_share=overlap) for i in ids]
    assert leases.enqueue(batch) == len(ids)


def test_every_part_registers_every_script_once():
    store = QueueStore(redis.Redis(), "p", RecordStore(redis.Redis(), "p", 60))  # registering is local: no round trip
    assert sorted(store._scripts) == sorted(set(QueueStore.SCRIPTS)) and len(QueueStore.SCRIPTS) == len(set(QueueStore.SCRIPTS))


def test_leases_answers_and_the_view_share_one_queue(parts):
    leases, answering, view = parts[Leases], parts[Answering], parts[QueueView]
    enqueue(leases, "a", "b")
    assert (view.counts().waiting, view.counts().leased) == (2, 0)
    item = leases.claim("ana").item
    assert view.counts().leased == 1 and view.state(item.id) == "leased"
    with pytest.raises(LeaseConflict):
        answering.answer(item.id, "bob", item.lease, "x")  # not bob's lease
    answered = answering.answer(item.id, "ana", item.lease, "x")
    assert answered.state == "done" and view.counts().answered == 1
    assert [row["id"] for row in answering.recent("ana")] == [item.id]
    assert view.reviewers_today() == {"ana": 1}


def test_housekeeping_takes_items_back_and_out(parts):
    leases, maintenance, view = parts[Leases], parts[Maintenance], parts[QueueView]
    enqueue(leases, "a", "b")
    held = leases.claim("ana").item
    assert maintenance.held_ids("ana") == [held.id]
    assert maintenance.requeue([held.id]) == 1 and maintenance.held_ids() == []
    assert sorted(maintenance.waiting_ids()) == ["a", "b"]
    assert maintenance.expire(["a"]) == 1 and view.state("a") == "expired"
    assert maintenance.reap() == 0 and view.counts().waiting == 1


def test_an_item_one_reviewer_is_not_sure_of_goes_to_the_experts(parts):
    leases, overlap, view = parts[Leases], parts[OverlapRouting], parts[QueueView]
    enqueue(leases, "a")
    item = leases.claim("ana").item
    overlap.unsure(item.id, "ana", item.lease, "which one?")
    assert view.counts().expert == 1 and leases.claim("bob").item is None
    assert leases.claim("eve", expert=True).item.id == "a"
    assert overlap.ready_to_consolidate() == [] and overlap.answers("a") == []
