"""The labeler's routing, without a broker: a handler that raises never crashes the loop, fetches fit the interval."""

from __future__ import annotations

from confluent_kafka import Message

from labelstream.labeler.routing import Routing


class Picky:
    """Routes each message to its offset; raises on any batch holding offset 3."""

    def __init__(self) -> None:
        self.replaced: list[tuple[int, str]] = []

    def route(self, messages):
        if any(m.offset() == 3 for m in messages):
            raise ValueError("offset 3")
        return [m.offset() for m in messages]

    def replace(self, message, output, reason):
        self.replaced.append((message.offset(), reason))
        return f"dead letter {message.offset()}"


def messages(n: int) -> list[Message]:
    return [Message(topic="records", partition=0, offset=offset) for offset in range(n)]


def test_a_batch_that_raises_is_routed_one_by_one_and_the_culprit_dead_lettered():
    handler = Picky()
    routing = Routing(handler, batch_size=1000, commit_interval=0.05)
    try:
        assert routing.route(messages(3)) == [0, 1, 2]
        assert routing.route(messages(5)) == [0, 1, 2, "dead letter 3", 4]
        assert handler.replaced == [(3, "routing raised ValueError: offset 3")]
        outputs, seconds = routing.submit(messages(2)).result(10)  # on the helper thread, timed
        assert outputs == [0, 1] and seconds >= 0
    finally:
        routing.shutdown()


def test_fetches_are_sized_to_what_routes_in_the_commit_interval():
    routing = Routing(Picky(), batch_size=1000, commit_interval=0.05)
    try:
        assert routing.fetch_size() == 1000  # not measured yet
        routing.observe(10, 1.0)  # too few records to judge a record's cost
        assert routing.fetch_size() == 1000
        routing.observe(100, 0.01)  # 100 us a record: 500 in 50 ms
        assert routing.fetch_size() == 500
        routing.observe(100, 0.035)  # averaged: 0.8 * 100 + 0.2 * 350 = 150 us a record
        assert routing.fetch_size() == 333
        routing.observe(50, 50.0)  # a record slower than the interval: still one
        assert routing.fetch_size() == 1
    finally:
        routing.shutdown()
