"""The broker goes down while the labeler adds its offsets to a transaction: the same process rides it out.

librdkafka's ``send_offsets_to_transaction`` can block past its timeout for as
long as the group coordinator is away (librdkafka issue 5456: its second step
waits for the coordinator with no timeout). Until the session-6 fix the stall
watchdog then restarted the labeler in place (nothing lost, but the warm model
gone and seconds of start-up). Now the call is bounded on a helper thread: past
the bound the producer is abandoned to its stuck call, a new one (same
transactional id) fences it once the broker is back, and the loop keeps turning.

The labeler runs in this process (so that the hang can be placed: which moment
of a transaction the broker's stop hits is otherwise a race); the broker stop is
real (``deploy/stack.sh stop kafka`` from inside the call), so is everything
after it: the bounded wait, the new producer's ``init_transactions`` failing
until the broker is back, the fencing, the redo. The stuck call itself is what
issue 5456 describes: it returns only once the broker is back. The ``faults``
outage test (``test_outages.py``) checks the same on a labeler process through
real outages: no restart in place.
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer
from fault_harness import RecordStream, stack, wait_for, wait_for_stack, write_stream

from labeler_support import RunningLabeler
from labelstream.kafka.outcomes import read_ledger
from labelstream.labeler import loop as labeler_loop

pytestmark = [pytest.mark.faults, pytest.mark.stack_outage]

OUTAGE_SECONDS = 16.0  # longer than the bound (15 s from the call, the broker's stop included)
RATE = 100.0


class CoordinatorGoesAway(Producer):
    """A real producer; its ``STRIKE``-th ``send_offsets_to_transaction`` stops the broker and then blocks until
    the broker is back before making the real call (librdkafka 5456's hang, placed)."""

    STRIKE = 30
    calls = 0
    down = threading.Event()
    restored = threading.Event()
    stuck_seconds = 0.0

    def send_offsets_to_transaction(self, *args):
        cls = CoordinatorGoesAway
        cls.calls += 1
        if cls.calls == cls.STRIKE:
            started = time.monotonic()
            stack("stop", "kafka")
            cls.down.set()
            cls.restored.wait()
            cls.stuck_seconds = time.monotonic() - started
        return super().send_offsets_to_transaction(*args)


def test_a_send_offsets_stuck_in_a_broker_outage_does_not_restart_the_labeler(settings_factory, tmp_path):
    settings = settings_factory(partitions=2)
    payloads, _truth = write_stream(tmp_path / "stream.csv", int(RATE * (OUTAGE_SECONDS + 25)), seed=3, prefix="k")
    ids = list(payloads)
    stream = RecordStream(settings, list(payloads.values()), RATE, message_timeout_ms=180_000)
    turns: list[float] = []  # seconds since the loop last turned, sampled while the labeler runs
    started = time.monotonic()
    try:
        with RunningLabeler(settings, producer_factory=CoordinatorGoesAway) as labeler:  # asserts no stall at exit
            stream.start()

            def sample() -> None:
                while not stream.finished.is_set() or not CoordinatorGoesAway.restored.is_set():
                    turns.append(time.monotonic() - labeler.loop.state.last_turn)
                    time.sleep(0.5)

            threading.Thread(target=sample, daemon=True).start()
            assert CoordinatorGoesAway.down.wait(120), "the labeler never reached the strike"
            down_at = time.monotonic()
            wait_for(lambda: labeler.loop.transactions.producers_abandoned, 60, "the stuck producer abandoned", 0.2)
            abandoned_after = time.monotonic() - down_at
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            stack("start", "kafka")
            up_at = time.monotonic()
            CoordinatorGoesAway.restored.set()
            wait_for_stack(settings)
            committed = labeler.loop.state.batches_committed
            wait_for(lambda: labeler.loop.state.batches_committed > committed, 120, "a commit after the restore", 0.2)
            resumed_after = time.monotonic() - up_at
            stream.join(120)
            wait_for(lambda: not read_ledger(settings).missing(ids), 120, "every record routed", 1.0)
            time.sleep(2)  # a duplicate would land now
            transactions = labeler.loop.transactions
            # whether the abandoned producer's call has returned (then it was dropped) is librdkafka's affair:
            # it returned within seconds of the restore in one run, not within 60 s in another; it is reported
            created, abandoned, stuck = transactions.producers_created, transactions.producers_abandoned, transactions.stuck_producers
    finally:
        CoordinatorGoesAway.restored.set()
        stack("start", "kafka")
        wait_for_stack(settings)
    ledger = read_ledger(settings)
    print(f"stuck send_offsets: abandoned after {abandoned_after:.1f} s, broker down {OUTAGE_SECONDS:g} s, "
          f"first commit {resumed_after:.1f} s after the restore, longest loop pause {max(turns):.1f} s, "
          f"producers created {created}, still stuck {stuck}, {time.monotonic() - started:.0f} s in all")
    assert len(ledger.missing(ids)) == 0 and ledger.duplicated() == {} and ledger.dead_letters == []
    assert abandoned == 1 and created >= 2  # one producer left to its stuck call, a new one; no restart (no stall)
    bound = labeler_loop.SEND_OFFSETS_TIMEOUT + labeler_loop.STALL_GRACE_SECONDS
    assert abandoned_after < bound + 3, abandoned_after  # the bound, not the outage
    # the loop kept turning (its longest pause: one bounded init_transactions attempt while the broker is away),
    # never blocked for the outage: /livez stays 200 (its limit: 90 s)
    assert max(turns) < labeler_loop.INIT_TIMEOUT + labeler_loop.STALL_GRACE_SECONDS, max(turns)
