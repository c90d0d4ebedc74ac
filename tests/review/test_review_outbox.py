"""The outbox publishes each answer once, across a crash between "published" and "removed from the outbox"."""

from __future__ import annotations

from collections import Counter

import pytest
import redis
from review_support import corrections, request, review_sections

from labelstream.review.items import QueueItem
from labelstream.review.leader import LeaderLock
from labelstream.review.outbox import NotLeader, OutboxPublisher
from labelstream.review.queue import ReviewQueue

pytestmark = pytest.mark.integration


def answered_queue(settings, client: redis.Redis, ids: list[str]) -> ReviewQueue:
    queue = ReviewQueue.from_settings(client, settings)
    queue.enqueue([QueueItem.from_request(request(i).model_dump_json().encode()) for i in ids])
    for _ in ids:
        item = queue.claim("ana").item
        queue.answer(item.id, "ana", item.lease, "dog")
    return queue


def publisher_of(settings, client: redis.Redis) -> OutboxPublisher:
    leader = LeaderLock(client, settings.redis.key_prefix)
    assert leader.hold()
    return OutboxPublisher(settings, client, leader)


def test_a_crash_after_publishing_and_before_trimming_publishes_nothing_twice(settings_factory):
    settings = settings_factory(**review_sections())
    client = redis.Redis.from_url(settings.redis.url)
    queue = answered_queue(settings, client, [f"a{i}" for i in range(30)])
    first = publisher_of(settings, client)
    first.recover()  # the first start: stores where the topic ends
    assert first.publish_once() == 30

    for i in range(30, 50):  # more answers ...
        queue.enqueue([QueueItem.from_request(request(f"a{i}").model_dump_json().encode())])
        item = queue.claim("bob").item
        queue.answer(item.id, "bob", item.lease, "cat")
    pending = client.lrange(queue.outbox_key, 0, -1)
    assert first.produce(pending[:15]) is not None  # ... 15 of them published, then the process dies: never trimmed
    first.leader.release()  # its lock expires

    second = publisher_of(settings, client)
    assert second.recover() == 15
    assert client.llen(queue.outbox_key) == 5
    assert second.publish_once() == 5
    ids = Counter(c["answer_id"] for c in corrections(settings))
    assert len(ids) == 50 and set(ids.values()) == {1}
    first.close()
    second.close()


def test_without_the_recovery_the_same_crash_duplicates(settings_factory):
    """What the kill -9 test would see if recovery were missing: the check can fail."""
    settings = settings_factory(**review_sections())
    client = redis.Redis.from_url(settings.redis.url)
    queue = answered_queue(settings, client, [f"b{i}" for i in range(10)])
    publisher = publisher_of(settings, client)
    publisher.recover()
    assert publisher.produce(client.lrange(queue.outbox_key, 0, -1)) is not None  # crash before the trim
    assert publisher.publish_once() == 10  # restarted, but publishing straight away
    ids = Counter(c["answer_id"] for c in corrections(settings))
    assert set(ids.values()) == {2}
    publisher.close()


def test_a_publisher_that_lost_the_lock_does_not_trim(settings_factory):
    settings = settings_factory(**review_sections())
    client = redis.Redis.from_url(settings.redis.url)
    queue = answered_queue(settings, client, ["c0", "c1"])
    publisher = publisher_of(settings, client)
    publisher.recover()
    client.set(publisher.leader.key, "another-instance")
    with pytest.raises(NotLeader):
        publisher.publish_once()
    assert client.llen(queue.outbox_key) == 2  # the new leader recovers: they are on the topic already
    publisher.close()
