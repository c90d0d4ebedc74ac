"""A ``send_offsets_to_transaction`` that overstays its bound, without a broker: the producer is abandoned, a new one made.

The broker-down case runs in ``tests/faults/test_stuck_send_offsets.py``; here the
client's call is made to hang (as librdkafka issue 5456 hangs) with a bound of
0.2 s, to check the bookkeeping: which failure, how many producers, when the
stuck one is dropped, and the last resort (``StuckCalls``) past ``max_abandoned``.
"""

from __future__ import annotations

import threading

import pytest

from labelstream.labeler.transactions import StuckCalls, TransactionFailed, Transactions


class Hangs:
    """Stands in for a transactional producer whose ``send_offsets_to_transaction`` hangs until released."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.purged = False

    def init_transactions(self, timeout):
        pass

    def send_offsets_to_transaction(self, offsets, metadata, timeout):
        self.release.wait()

    def purge(self, *args, **kwargs):
        self.purged = True


def test_a_stuck_send_offsets_abandons_the_producer_and_the_next_is_a_new_one():
    release = threading.Event()
    made: list[Hangs] = []
    wrapper = Transactions({}, factory=lambda _config: made.append(Hangs(release)) or made[-1], max_abandoned=1)
    turns = []
    try:
        assert wrapper.ensure_ready(1)
        with pytest.raises(TransactionFailed) as first:
            wrapper.send_offsets([], None, 0.1, limit=1.2, on_wait=lambda: turns.append(1))
        assert type(first.value) is TransactionFailed and first.value.kind == "transient"
        assert turns  # the caller turned while it waited
        assert made[0].purged and not wrapper.ready and wrapper.producers_abandoned == 1
        assert wrapper.ensure_ready(1) and len(made) == 2 and wrapper.stuck_producers == 1
        with pytest.raises(StuckCalls):  # a second one still stuck: more than max_abandoned, the last resort
            wrapper.send_offsets([], None, 0.1, limit=0.2)
        assert wrapper.stuck_producers == 2
    finally:
        release.set()
    for _ in range(50):  # the stuck calls return: the abandoned producers are dropped
        if wrapper.stuck_producers == 0:
            break
        threading.Event().wait(0.05)
    assert wrapper.stuck_producers == 0
