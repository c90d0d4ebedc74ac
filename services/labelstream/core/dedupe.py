"""The dedupe window: a record id already routed recently is a duplicate, whatever its new offset.

Producers retry, exports run twice, a pipeline replays a file: the same record
id arrives again. Routed again it would get a second outcome (two labels, two
review tasks for one record). The labeler remembers where each of the last
``size`` record ids it routed came from (topic, partition, offset); a record
whose id is in the window *at another place* is a duplicate and is
dead-lettered (``duplicate_id``), never silently dropped, never labeled twice.
The same message seen again (a batch redone after an abort, a partition given
back after a rebalance) is at the same place, so it is never its own duplicate.

The window is bounded and in memory, oldest id out first, and keeps no Python
object per id: an open-addressing table of 64-bit id hashes and a ring of
places, in preallocated arrays (~56 bytes an id: 100,000 ids ~ 5.6 MB). Keeping
the id strings themselves (a dict of ids) left ~100,000 small long-lived
objects spread over the allocator's pools among each batch's temporaries, which
made every stage of routing slower as the window filled: ~18 -> 25-38 us a
record in process (bench/router_drift.py). Two ids are taken for one when
their 64-bit hashes are equal: with a full window of 100,000, a chance of
~5e-15 a record that a new record is dead-lettered as a duplicate (never lost).
It lives in one labeler process
and covers the partitions that process routes; ``produce`` keys records by
id, so a record and its duplicate share a partition and meet the same
labeler, unless a restart or a rebalance came between them (docs/dedupe.md).

>>> window = DedupeWindow(size=2)
>>> window.check("a", ("records", 0, 10)), window.check("b", ("records", 0, 11))
(None, None)
>>> window.check("a", ("records", 0, 12))      # a duplicate: where the first one was
('records', 0, 10)
>>> window.check("a", ("records", 0, 10))      # the first one again (a redo): not a duplicate
>>> window.check("c", ("records", 1, 3)); window.check("a", ("records", 0, 13))  # "a" left the window
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

Place = tuple[str, int, int]
"""(topic, partition, offset) of a message."""


class DedupeWindow:
    """The places of the last ``size`` distinct record ids routed (``size`` >= 1).

    ``_table`` (linear probing, at most a quarter full) holds ring slot + 1 (0: empty);
    the ring (``_hashes``, ``_offsets``, ``_partitions``, ``_topic_codes``) holds
    the last ``size`` ids in order, the oldest at ``_next`` once it is full.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a dedupe window holds at least one id")
        self.size = size
        capacity = 1 << max(3, (4 * size - 1).bit_length())  # a quarter full at most: short probes and shifts
        self._mask = capacity - 1
        kind = "i" if size < 2**31 - 1 else "q"  # slot + 1 in 4 bytes: the table in half the memory
        self._table = array(kind, bytes(array(kind).itemsize * capacity))
        self._hashes = array("q", bytes(8 * size))
        self._offsets = array("q", bytes(8 * size))
        self._partitions = array("q", bytes(8 * size))
        self._topic_codes = array("q", bytes(8 * size))
        self._topics: dict[str, int] = {}
        self._topic_names: list[str] = []
        self._used = 0
        self._next = 0

    def __len__(self) -> int:
        return self._used

    def check(self, record_id: str, place: Place) -> Place | None:
        """``None`` and remember the id if it is new (or seen at this very place); else where it was first routed."""
        key = hash(record_id)
        index, slot = self._find(key)
        if slot >= 0:
            first = (self._topic_names[self._topic_codes[slot]], self._partitions[slot], self._offsets[slot])
            return None if first == place else first
        topic, partition, offset = place
        code = self._topics.get(topic)
        if code is None:
            code = self._topics[topic] = len(self._topic_names)
            self._topic_names.append(topic)
        slot = self._next
        self._next = slot + 1 if slot + 1 < self.size else 0
        if self._used == self.size:
            # The oldest id leaves. Only one place of the table empties (the hole the shifting ends at): the first
            # free place of key's probe (home .. index) is that hole if it lies before index, else index still.
            hole, home = self._remove(slot), key & self._mask
            if (hole - home) & self._mask < (index - home) & self._mask:
                index = hole
        else:
            self._used += 1
        self._table[index] = slot + 1
        self._hashes[slot] = key
        self._offsets[slot] = offset
        self._partitions[slot] = partition
        self._topic_codes[slot] = code
        return None

    def check_many(self, record_ids: Sequence[str], places: Sequence[Sequence]) -> list[Place | None]:
        """:meth:`check` of each id in turn, in one loop (a batch's ids: no two calls an id).

        ``places`` are (topic, partition, offset, ...): only the first three are read.
        The same answers and the same window afterwards as the calls one by one (tested).
        """
        table, hashes, offsets, partitions, codes = self._table, self._hashes, self._offsets, self._partitions, self._topic_codes
        mask, size, topics, names, remove = self._mask, self.size, self._topics, self._topic_names, self._remove
        answers: list[Place | None] = []
        append = answers.append
        used, next_slot = self._used, self._next
        try:
            for record_id, place in zip(record_ids, places, strict=True):
                key = hash(record_id)
                index = key & mask
                while True:  # _find, inlined
                    entry = table[index]
                    if entry == 0:
                        break
                    if hashes[entry - 1] == key:
                        break
                    index = (index + 1) & mask
                if entry:
                    slot = entry - 1
                    first = (names[codes[slot]], partitions[slot], offsets[slot])
                    append(None if first == (place[0], place[1], place[2]) else first)
                    continue
                topic, partition, offset = place[0], place[1], place[2]
                code = topics.get(topic)
                if code is None:
                    code = topics[topic] = len(names)
                    names.append(topic)
                slot = next_slot
                next_slot = slot + 1 if slot + 1 < size else 0
                if used == size:  # as in check
                    hole, home = remove(slot), key & mask
                    if (hole - home) & mask < (index - home) & mask:
                        index = hole
                else:
                    used += 1
                table[index] = slot + 1
                hashes[slot] = key
                offsets[slot] = offset
                partitions[slot] = partition
                codes[slot] = code
                append(None)
        finally:
            self._used, self._next = used, next_slot
        return answers

    def _find(self, key: int) -> tuple[int, int]:
        """(table index, ring slot) of ``key``, or (the free index where it would go, -1)."""
        table, hashes, mask = self._table, self._hashes, self._mask
        index = key & mask
        while True:
            entry = table[index]
            if entry == 0:
                return index, -1
            if hashes[entry - 1] == key:
                return index, entry - 1
            index = (index + 1) & mask

    def _remove(self, slot: int) -> int:
        """Take the id of ring ``slot`` out of the table, shifting back the entries after it (no tombstones); the
        table index left empty."""
        table, hashes, mask = self._table, self._hashes, self._mask
        index = hashes[slot] & mask
        while table[index] != slot + 1:
            index = (index + 1) & mask
        probe = index
        while True:
            probe = (probe + 1) & mask
            entry = table[probe]
            if entry == 0:
                break
            home = hashes[entry - 1] & mask
            if (probe - home) & mask >= (probe - index) & mask:  # the entry may fill the hole: its home is not after it
                table[index] = entry
                index = probe
        table[index] = 0
        return index
