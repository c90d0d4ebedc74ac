"""The dedupe window: places kept exactly, oldest ids out first, nothing the garbage collector tracks."""

from __future__ import annotations

import gc
import random

from labelstream.core.dedupe import DedupeWindow


def test_places_come_back_exactly_for_large_offsets_partitions_and_many_topics():
    window = DedupeWindow(1000)
    rng = random.Random(5)
    places = {
        f"r{i}": (f"topic-{rng.randrange(20)}", rng.choice([0, 7, 2**31 - 1, 2**32 - 1]), rng.choice([0, 1, 2**40, 2**63 - 1]))
        for i in range(300)
    }
    for record_id, place in places.items():
        assert window.check(record_id, place) is None
    for record_id, (topic, partition, offset) in places.items():
        assert window.check(record_id, (topic, partition, offset)) is None  # the same place: a redo, not a duplicate
        assert window.check(record_id, (topic, partition, offset + 1)) == (topic, partition, offset)
        assert window.check(record_id, (topic + "x", partition, offset)) == (topic, partition, offset)


def test_a_place_that_does_not_pack_is_kept_as_given():
    window = DedupeWindow(10)
    assert window.check("a", ("t", 2**33, 5)) is None  # partition beyond 32 bits
    assert window.check("b", ("t", 0, -1)) is None  # no offset yet (librdkafka's OFFSET_INVALID)
    assert window.check("a", ("t", 0, 5)) == ("t", 2**33, 5)
    assert window.check("b", ("t", 0, 0)) == ("t", 0, -1)


def test_the_window_holds_exactly_the_last_size_ids_over_many_turns():
    window = DedupeWindow(50)
    for offset in range(1000):
        assert window.check(f"id{offset}", ("t", 0, offset)) is None
    assert len(window) == 50
    assert window.check("id949", ("t", 0, 5000)) is None  # the 51st newest: out
    assert window.check("id951", ("t", 0, 5001)) == ("t", 0, 951)


def test_the_collector_never_tracks_the_window():
    """A tracked dict of tuples and a deque of 100,000 ids were traversed at every full collection."""
    window = DedupeWindow(1000)
    for offset in range(3000):
        window.check(f"id{offset}", ("records", offset % 3, offset))
    gc.collect()
    assert not gc.is_tracked(window._places)
    assert not gc.is_tracked(window._order)
