"""The dedupe window: places kept exactly, oldest ids out first, no Python object kept per id."""

from __future__ import annotations

import random
import sys
from collections import deque

from labelstream.core.dedupe import DedupeWindow


def test_places_come_back_exactly_for_large_offsets_partitions_and_many_topics():
    window = DedupeWindow(1000)
    rng = random.Random(5)
    places = {
        f"r{i}": (f"topic-{rng.randrange(20)}", rng.choice([0, 7, 2**31 - 1, 2**32 - 1]), rng.choice([-1001, 0, 1, 2**40, 2**63 - 1]))
        for i in range(300)
    }
    for record_id, place in places.items():
        assert window.check(record_id, place) is None
    for record_id, (topic, partition, offset) in places.items():
        assert window.check(record_id, (topic, partition, offset)) is None  # the same place: a redo, not a duplicate
        assert window.check(record_id, (topic, partition, offset + 1)) == (topic, partition, offset)
        assert window.check(record_id, (topic + "x", partition, offset)) == (topic, partition, offset)


def test_the_window_holds_exactly_the_last_size_ids_over_many_turns():
    window = DedupeWindow(50)
    for offset in range(1000):
        assert window.check(f"id{offset}", ("t", 0, offset)) is None
    assert len(window) == 50
    assert window.check("id949", ("t", 0, 5000)) is None  # the 51st newest: out
    assert window.check("id951", ("t", 0, 5001)) == ("t", 0, 951)


class ExactWindow:
    """The window's meaning, the plain way: a dict of ids and a deque of them in order."""

    def __init__(self, size: int) -> None:
        self.size, self.places, self.order = size, {}, deque()

    def check(self, record_id: str, place: tuple) -> tuple | None:
        first = self.places.get(record_id)
        if first is not None:
            return None if first == place else first
        self.places[record_id] = place
        self.order.append(record_id)
        if len(self.order) > self.size:
            del self.places[self.order.popleft()]
        return None


def test_it_answers_as_the_plain_dict_and_deque_over_a_long_stream_with_repeats():
    """Ids come back within and beyond the window, at the same place (a redo) and at new ones; removals shift
    entries back in the table, so a wrong shift would lose or misplace an id the reference still holds."""
    rng = random.Random(11)
    for size in (1, 2, 7, 64, 500):
        window, reference = DedupeWindow(size), ExactWindow(size)
        seen: list[tuple[str, tuple]] = []
        for offset in range(6000):
            if seen and rng.random() < 0.4:
                record_id, place = rng.choice(seen[-3 * size:])
                if rng.random() < 0.5:
                    place = ("records", rng.randrange(3), offset)
            else:
                record_id, place = f"id-{offset}", ("records", rng.randrange(3), offset)
                seen.append((record_id, place))
            assert window.check(record_id, place) == reference.check(record_id, place), (size, offset)
            assert len(window) == len(reference.places)


def test_the_window_keeps_no_reference_to_the_ids():
    """Thousands of long-lived id strings spread among each batch's temporaries slowed every stage of routing."""
    window = DedupeWindow(100)
    ids = ["".join(("record-", str(i))) for i in range(300)]
    before = [sys.getrefcount(record_id) for record_id in ids]
    for offset in range(len(ids)):
        window.check(ids[offset], ("records", 0, offset))
    assert [sys.getrefcount(record_id) for record_id in ids] == before


def test_check_many_answers_and_leaves_the_window_as_the_checks_one_by_one():
    """The router's batch form: same answers, same window afterwards (then checked one by one alike)."""
    rng = random.Random(23)
    for size in (1, 2, 7, 64, 500):
        one, many = DedupeWindow(size), DedupeWindow(size)
        seen: list[tuple[str, tuple]] = []
        for batch in range(60):
            ids, places = [], []
            for offset in range(batch * 100, batch * 100 + rng.randrange(1, 100)):
                if seen and rng.random() < 0.4:
                    record_id, place = rng.choice(seen[-3 * size:])
                    if rng.random() < 0.5:
                        place = (rng.choice(["records", "other"]), rng.randrange(3), offset)
                else:
                    record_id, place = f"id-{offset}", ("records", rng.randrange(3), offset)
                    seen.append((record_id, place))
                ids.append(record_id)
                places.append((*place, 1.5) if rng.random() < 0.5 else place)  # an Origin's timestamp: not read
            assert many.check_many(ids, places) == [one.check(i, p[:3]) for i, p in zip(ids, places, strict=True)]
            assert (len(many), many._next, list(many._table), list(many._hashes)) == (
                len(one), one._next, list(one._table), list(one._hashes))
        probes = [record_id for record_id, _ in seen[-2 * size:]]
        assert [many.check(i, ("x", 9, 9)) for i in probes] == [one.check(i, ("x", 9, 9)) for i in probes]
