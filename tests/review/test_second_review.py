"""Second reviews of flagged answers (label_errors) on the real Redis: the queue's overlap path, reused."""

from __future__ import annotations

import uuid

import orjson
import pytest
import redis
from review_support import request

from labelstream.core.agreement import AgreementTracker
from labelstream.core.schemas import FlaggedAnswer, ReviewRequest
from labelstream.review.consolidation import Consolidator
from labelstream.review.items import QueueItem
from labelstream.review.metrics import ReviewMetrics
from labelstream.review.queue import ReviewQueue
from labelstream.store.records import RecordStore

pytestmark = pytest.mark.integration


@pytest.fixture
def queue(redis_up) -> ReviewQueue:
    client = redis.Redis.from_url(redis_up.redis.url)
    prefix = f"s{uuid.uuid4().hex[:8]}"
    return ReviewQueue(client, prefix, RecordStore(client, prefix, 3600), lease_seconds=60.0, undo_seconds=0.0)


def second_review(record_id: str, answer_id: str, reviewer: str, label: str) -> QueueItem:
    """The request the learner sends for a flagged answer."""
    first = request(record_id).model_dump()
    flagged = FlaggedAnswer(answer_id=answer_id, reviewer=reviewer, label=label, suggested_label="cat", confidence=0.97)
    value = ReviewRequest.model_validate({**first, "reason": "disagreement", "priority": 1.0, "flagged_answer": flagged})
    return QueueItem.from_request(value.model_dump_json().encode(), overlap_share=1.0, overlap_k=3)


def answer(queue: ReviewQueue, reviewer: str, label: str, expect: str) -> str:
    item = queue.claim(reviewer).item
    assert item is not None and item.id == expect, (reviewer, item)
    return queue.answer(item.id, reviewer, item.lease, label).answer_id


def test_a_flagged_answer_gets_a_second_reviewer_then_an_adjudicator_and_one_consensus(queue):
    consolidator = Consolidator(queue, ReviewMetrics(), "majority", adjudication=True)
    queue.enqueue([QueueItem.from_request(request("s1").model_dump_json().encode())])
    assert answer(queue, "ana", "dog", "s1") == "s1#1" and queue.state("s1") == "done"

    flagged = second_review("s1", "s1#1", "ana", "dog")
    assert flagged.needed == 1  # never made an overlap item by the overlap share: the reopen decides
    assert queue.reopen([flagged]) == 1
    assert queue.reopen([flagged]) == 0  # the learner's replay after a crash: nothing more
    assert queue.claim("ana").item is None  # the first reviewer never sees it again
    item = queue.claim("bob").item
    assert item.id == "s1" and item.needed == 2
    assert item.request["reason"] == "disagreement" and "flagged_answer" not in item.request  # not anchored on ana's answer
    assert queue.answer("s1", "bob", item.lease, "cat").state == "consolidating"
    assert consolidator.run_once() == 0 and queue.state("s1") == "waiting"  # ana and bob disagree: a third reviewer
    answer(queue, "cyd", "cat", "s1")
    assert consolidator.run_once() == 1 and queue.state("s1") == "done"

    entries = [orjson.loads(raw) for raw in queue.client.lrange(queue.outbox_key, 0, -1)]
    assert [(e["kind"], e["reviewer"], e["label"]) for e in entries] == [
        ("answer", "ana", "dog"), ("overlap", "bob", "cat"), ("overlap", "cyd", "cat"), ("consensus", "consensus", "cat"),
    ]
    assert entries[-1]["answers"] == {"ana": "dog", "bob": "cat", "cyd": "cat"} and entries[-1]["adjudicated"]
    # chosen for looking wrong: no lesson for the agreement figures or the consensus's reviewer estimates
    assert consolidator.tracker.state() == AgreementTracker().state()
    assert queue.reopen([flagged]) == 0  # and never reopened twice


def test_an_undone_flagged_answer_is_moot_and_a_forgotten_item_comes_back_with_it(queue):
    queue.undo_seconds = 30.0
    queue.enqueue([QueueItem.from_request(request("u1").model_dump_json().encode())])
    answer(queue, "ana", "dog", "u1")
    undone = queue.undo("ana")
    queue.answer("u1", "ana", undone.item.lease, "cat")  # ana changed her mind: her flagged "dog" is withdrawn
    assert queue.reopen([second_review("u1", "u1#1", "ana", "dog")]) == 0
    assert queue.state("u1") == "done"

    # an item the queue no longer remembers (review.done_keep_seconds): recreated holding the flagged answer
    assert queue.reopen([second_review("g1", "g1#4", "ana", "dog")]) == 1
    assert queue.claim("ana").item is None
    assert answer(queue, "bob", "dog", "g1") == "g1#5"
    assert queue.answers("g1") == [("ana", "dog"), ("bob", "dog")]
    assert Consolidator(queue, ReviewMetrics(), "majority").run_once(now=queue.client.time()[0] + 31.0) == 1
    assert queue.state("g1") == "done"
