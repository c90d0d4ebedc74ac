"""The LF applier: an LF that raises, is slow or hangs abstains, is counted, and never holds up the batch."""

import threading
import time

from labelstream.core.weak.applier import LFApplier
from labelstream.core.weak.functions import LabelingFunction


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def good() -> LabelingFunction:
    return LabelingFunction("good", lambda r: "yes" if r % 2 else None)


def test_a_raising_lf_abstains_and_is_counted_inline_and_threaded():
    def broken(r):
        if r == 3:
            raise KeyError("missing feature")
        return "no"

    for batch_timeout in (None, 5.0):
        applier = LFApplier([good(), LabelingFunction("broken", broken)], batch_timeout=batch_timeout)
        votes = applier.apply([1, 2, 3])
        assert votes == [("yes", "no"), (None, "no"), ("yes", None)]
        counts = applier.counts["broken"]
        assert (counts.calls, counts.votes, counts.errors) == (3, 2, 1)
        assert counts.last_error == "KeyError: 'missing feature'"
        applier.close()


def test_system_exit_in_a_threaded_lf_is_only_that_lf_failing():
    def exits(r):
        raise SystemExit(3)

    applier = LFApplier([good(), LabelingFunction("exits", exits)], batch_timeout=5.0)
    assert applier.apply([1]) == [("yes", None)]
    assert applier.counts["exits"].errors == 1
    applier.close()


def test_a_slow_call_has_its_vote_dropped():
    def slow(r):
        if r == 2:
            time.sleep(0.05)
        return "late"

    applier = LFApplier([LabelingFunction("slow", slow)], call_timeout=0.02, batch_timeout=None)
    assert applier.apply([1, 2]) == [("late",), (None,)]
    assert (applier.counts["slow"].slow, applier.counts["slow"].votes) == (1, 1)


def test_a_hanging_lf_does_not_hold_the_batch_and_is_suspended_until_it_returns():
    release = threading.Event()
    entered = threading.Event()

    def hangs(r):
        if r == 2:
            entered.set()
            release.wait(30)
        return "h"

    clock = Clock()
    applier = LFApplier([good(), LabelingFunction("hangs", hangs)], batch_timeout=1.0, suspend_seconds=10, clock=clock)
    try:
        votes = applier.apply([1, 2, 3])
        assert entered.is_set() and not release.is_set()  # returned while the LF was still blocked
        assert votes == [("yes", "h"), (None, None), ("yes", None)]  # votes before the hang count
        assert applier.counts["hangs"].timed_out == 2
        assert applier.suspended() == ["hangs"]

        assert applier.apply([5]) == [("yes", None)]  # skipped while its call is stuck
        assert applier.counts["hangs"].skipped == 1

        release.set()
        deadline = time.monotonic() + 10
        while applier._stuck[1] is not None and not applier._stuck[1].done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert applier.apply([7]) == [("yes", None)]  # returned, but still backing off
        clock.now = 10.0
        assert applier.apply([7]) == [("yes", "h")]  # back after the back-off
        assert applier.suspended() == []
    finally:
        release.set()
        applier.close()


def test_no_functions_and_no_records():
    assert LFApplier([]).apply([1, 2]) == [(), ()]
    assert LFApplier([good()]).apply([]) == []
