"""The review service's ingest is a static group member; two services given one instance id do not fight for ever.

Static membership (``group.instance.id``) lets a restarted review service, or
one whose broker restarted, take its partitions back at once. Its risk is two
services with the same id: each join fences the other. The ingest rejoins after
a fencing (a session that expired during an outage fences too, librdkafka
3437), and after ``FENCINGS_BEFORE_DYNAMIC`` fencings goes on as a dynamic
member. Checked here with two ingests of one id on the real broker and Redis:
one ends dynamic, the other static, and every request is enqueued once.
"""

from __future__ import annotations

import threading
import time

import pytest
from fault_harness import stack, wait_for, wait_for_stack

from labelstream.review import ingest as review_ingest
from labelstream.review.ingest import ReviewIngest
from labelstream.review.queue import ReviewQueue
from labelstream.store.connection import connect
from review.review_support import publish_requests, request, review_sections, steps_until

pytestmark = pytest.mark.faults


def test_two_review_services_with_one_instance_id_settle_instead_of_fencing_each_other(settings_factory):
    settings = settings_factory(partitions=2, **review_sections(instance_id="shared-id"))
    queue = ReviewQueue.from_settings(connect(settings.redis), settings)
    first, second = ReviewIngest(settings, queue), ReviewIngest(settings, queue)
    assert first.instance_id == second.instance_id == "shared-id"
    stop = threading.Event()
    threads = [threading.Thread(target=ingest.run, args=(stop,), daemon=True) for ingest in (first, second)]
    started = time.monotonic()
    try:
        threads[0].start()
        publish_requests(settings, [request(f"a{i}") for i in range(30)])
        wait_for(lambda: first.enqueued == 30, 60, "the first service's requests enqueued", 0.2)
        threads[1].start()  # joins under the same id: fences the first, which rejoins and fences it back ...
        wait_for(lambda: first.instance_id is None or second.instance_id is None, 120, "one service gone dynamic", 0.5)
        settled = time.monotonic() - started
        publish_requests(settings, [request(f"b{i}") for i in range(30)])
        wait_for(lambda: first.enqueued + second.enqueued == 60, 90, "the later requests enqueued", 0.2)
        time.sleep(5)  # a fencing still going on would show now
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    dynamic, static = (first, second) if first.instance_id is None else (second, first)
    print(f"static member: settled after {settled:.1f} s, rejoins {dynamic.rejoins} + {static.rejoins}")
    assert dynamic.rejoins >= review_ingest.FENCINGS_BEFORE_DYNAMIC
    assert static.instance_id == "shared-id" and static.rejoins < review_ingest.FENCINGS_BEFORE_DYNAMIC
    assert first.enqueued + second.enqueued == 60  # each request once (the queue ignores ids it holds)


@pytest.mark.stack_outage
def test_a_static_ingest_whose_session_times_out_in_an_outage_joins_with_a_new_consumer(settings_factory):
    """librdkafka 3437: a static member's own rejoin after its session timed out can hang (twice in CI, after the
    outage test's broker outage: nothing enqueued for 300 s, no error). The ingest replaces such a consumer itself;
    here a broker outage longer than the session (10 s) must bring exactly that, and the requests sent after it
    must be enqueued."""
    settings = settings_factory(**review_sections(instance_id="timeout-id"))
    ingest = ReviewIngest(settings, ReviewQueue.from_settings(connect(settings.redis), settings))
    stop = threading.Event()
    ingest.consumer.subscribe([settings.topics.review])
    try:
        publish_requests(settings, [request(f"a{i}") for i in range(10)])
        steps_until(ingest, stop, lambda: ingest.enqueued == 10, "the first requests enqueued")
        stack("stop", "kafka")
        try:
            steps_until(ingest, stop, lambda: ingest.session_rejoins > 0, "the session timed out in the outage", 40)
        finally:
            stack("start", "kafka")
            wait_for_stack(settings)
        publish_requests(settings, [request(f"b{i}") for i in range(10)])
        steps_until(ingest, stop, lambda: ingest.enqueued == 20, "the requests sent after the outage enqueued", 90)
    finally:
        ingest.consumer.close()
    assert ingest.session_rejoins == 1 and ingest.rejoins == 0 and ingest.stalls == 0
