"""The review ingest's stall watch: requests that wait while the consumer takes none bring a new consumer.

The decision is checked on plain marks; the recovery on the real broker and
Redis, with the ingest's consumer wedged by pausing its partitions (it then
fetches nothing and raises nothing, as the consumer of the failed CI run did
after a broker outage).
"""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaException

from labelstream.review.ingest import ReviewIngest
from labelstream.review.ingest_watch import IngestMarks, StallWatch
from labelstream.review.queue import ReviewQueue
from labelstream.store.connection import connect
from review.review_support import publish_requests, request, review_sections, steps_until


def marks(held=(0,), positions=None, ends=None, committed=None) -> IngestMarks:  # noqa: ANN001
    return IngestMarks(frozenset(held), positions or {}, ends or {}, committed or {})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch_over(observed: list[IngestMarks], stall_seconds: float = 30.0) -> tuple[StallWatch, Clock]:
    """A watch whose checks see ``observed`` in turn, 10 s apart."""
    clock = Clock()
    watch = StallWatch("review", stall_seconds, check_seconds=10, clock=clock)
    feed = iter(observed)
    watch._observe = lambda consumer: next(feed)  # type: ignore[method-assign]
    return watch, clock


def run_checks(watch: StallWatch, clock: Clock, n: int) -> list[str | None]:
    said = []
    for _ in range(n):
        clock.now += 10
        said.append(watch.check(None))  # type: ignore[arg-type]
    return said


def test_a_held_partition_whose_position_stays_below_its_end_is_a_stall_after_stall_seconds():
    stuck = marks(positions={0: 5}, ends={0: 9})
    watch, clock = watch_over([stuck] * 6)
    said = run_checks(watch, clock, 6)
    # first look, then waiting from 20 s: said at 50 s (30 s later), then the watch starts over
    assert said[:4] == [None] * 4 and said[4] is not None and "[0]" in said[4] and said[5] is None


def test_a_position_that_moves_or_has_reached_the_end_is_no_stall():
    moving = [marks(positions={0: i}, ends={0: 100}) for i in range(8)]
    at_end = [marks(positions={0: 9}, ends={0: 9})] * 8
    for observed in (moving, at_end):
        watch, clock = watch_over(observed)
        assert run_checks(watch, clock, 8) == [None] * 8


def test_holding_nothing_while_the_topic_grows_and_nobody_commits_is_a_stall():
    grows = [marks(held=(), ends={0: 10 + i}, committed={0: 10}) for i in range(6)]
    watch, clock = watch_over(grows)
    assert any(run_checks(watch, clock, 6))
    committed_by_another = [marks(held=(), ends={0: 10 + i}, committed={0: 10 + i}) for i in range(6)]
    watch, clock = watch_over(committed_by_another)
    assert run_checks(watch, clock, 6) == [None] * 6


def test_holding_nothing_while_a_backlog_waits_is_a_stall_even_once_the_topic_stops_growing():
    """The stream paused after the outage: requests from before it wait past the group's offsets, none arrive."""
    backlog = [marks(held=(), ends={0: 30, 1: 7}, committed={0: 10, 1: 6})] * 6
    watch, clock = watch_over(backlog)
    said = run_checks(watch, clock, 6)
    assert said[:4] == [None] * 4 and said[4] is not None and "[0]" in said[4] and "1" not in said[4].split("[")[1]
    never_committed = [marks(held=(), ends={0: 5}, committed={0: -1001})] * 6
    watch, clock = watch_over(never_committed)
    assert any(run_checks(watch, clock, 6))
    # the group's offsets at the end, or one transaction marker before it: nothing waits
    caught_up = [marks(held=(), ends={0: 11, 1: 6}, committed={0: 10, 1: 6})] * 6
    watch, clock = watch_over(caught_up)
    assert run_checks(watch, clock, 6) == [None] * 6


def test_queries_that_keep_failing_are_a_stall_but_an_outage_that_ends_is_not():
    """librdkafka 3437: a static member whose session timed out can stay without a coordinator after the broker is
    back, its queries failing; a new consumer is harmless if the broker is really still down."""
    failing = KafkaException("Local: Timed out")

    def fail(consumer):  # noqa: ANN001, ANN202
        raise failing

    watch, clock = watch_over([])
    watch._observe = fail  # type: ignore[method-assign]
    said = run_checks(watch, clock, 5)
    assert said[:3] == [None] * 3 and said[3] is not None and "queries about its group failed" in said[3] and said[3].endswith("for 30 s") and said[4] is None
    # an outage shorter than stall_seconds, then a consumer that answers at its end: nothing said
    answers = iter([marks(positions={0: 9}, ends={0: 9})] * 3)
    watch, clock = watch_over([])
    watch._observe = lambda consumer: (_ for _ in ()).throw(failing) if clock.now < 30 else next(answers)
    assert run_checks(watch, clock, 5) == [None] * 5


def test_progress_and_a_rebalance_start_the_watch_over():
    stuck = marks(positions={0: 5}, ends={0: 9})
    watch, clock = watch_over([stuck] * 3 + [marks(held=(0, 1), positions={0: 5, 1: 0}, ends={0: 9, 1: 4})] * 3)
    said = run_checks(watch, clock, 3)
    watch.progress()
    said += run_checks(watch, clock, 3)
    assert said == [None] * 6  # never 30 s of the same waiting


@pytest.mark.integration
def test_a_wedged_ingest_consumer_is_replaced_and_the_waiting_requests_are_enqueued(settings_factory):
    settings = settings_factory(**review_sections(ingest_stall_seconds=3.0))
    ingest = ReviewIngest(settings, ReviewQueue.from_settings(connect(settings.redis), settings))
    ingest.watch.check_seconds = 1.0
    stop = threading.Event()
    ingest.consumer.subscribe([settings.topics.review])
    try:  # the ingest's steps in this thread (a consumer is not to be paused from another thread while it consumes)
        publish_requests(settings, [request(f"a{i}") for i in range(10)])
        steps_until(ingest, stop, lambda: ingest.enqueued >= 10, "the first requests enqueued")
        wedged = ingest.consumer
        wedged.pause(wedged.assignment())  # fetches nothing, raises nothing
        publish_requests(settings, [request(f"b{i}") for i in range(10)])
        steps_until(ingest, stop, lambda: ingest.enqueued >= 20, "the requests that came while the consumer was wedged enqueued")
    finally:
        ingest.consumer.close()
    assert ingest.stalls == 1 and ingest.consumer is not wedged
    assert ingest.rejoins == 0  # no fatal error was raised: the watch, not the error path, replaced the consumer


@pytest.mark.integration
def test_an_ingest_consumer_that_left_the_group_is_replaced_though_no_request_arrives_after_it(settings_factory):
    """The consumer holds nothing while the requests published before wait; none come after them (the
    stream paused): the backlog alone brings the new consumer."""
    settings = settings_factory(**review_sections(ingest_stall_seconds=3.0))
    ingest = ReviewIngest(settings, ReviewQueue.from_settings(connect(settings.redis), settings))
    ingest.watch.check_seconds = 1.0
    stop = threading.Event()
    ingest.consumer.subscribe([settings.topics.review])
    try:
        publish_requests(settings, [request(f"a{i}") for i in range(10)])
        steps_until(ingest, stop, lambda: ingest.enqueued >= 10, "the first requests enqueued")
        gone = ingest.consumer
        gone.unsubscribe()  # out of the group: holds nothing, raises nothing
        publish_requests(settings, [request(f"b{i}") for i in range(10)])
        steps_until(ingest, stop, lambda: ingest.enqueued >= 20, "the requests published after the consumer left enqueued")
    finally:
        ingest.consumer.close()
    assert ingest.stalls == 1 and ingest.consumer is not gone and ingest.rejoins == 0
