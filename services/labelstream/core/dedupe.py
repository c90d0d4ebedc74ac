"""The dedupe window: a record id already routed recently is a duplicate, whatever its new offset.

Producers retry, exports run twice, a pipeline replays a file: the same record
id arrives again. Routed again it would get a second outcome (two labels, two
review tasks for one record). The labeler remembers where each of the last
``size`` record ids it routed came from (topic, partition, offset); a record
whose id is in the window *at another place* is a duplicate and is
dead-lettered (``duplicate_id``), never silently dropped, never labeled twice.
The same message seen again (a batch redone after an abort, a partition given
back after a rebalance) is at the same place, so it is never its own duplicate.

The window is bounded and in memory, oldest id out first (an entry with its
id string ~250 bytes: 100,000 ids ~ 24 MB). It holds only strings and ints,
in two dicts, so the garbage collector never tracks it: a deque of 100,000 ids
and a dict of place tuples were traversed at every full collection, which made
routing cost grow with the window as it filled (bench/router_drift.py). It lives in one labeler process
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

Place = tuple[str, int, int]
"""(topic, partition, offset) of a message."""

_PARTITION_BITS = 32
_TOPIC_BITS = 16


class DedupeWindow:
    """The places of the last ``size`` distinct record ids routed (``size`` >= 1).

    A place is kept packed in one int (offset, partition, topic number), the
    order as sequence number -> id: no tuple, deque or list, so neither dict
    is ever tracked by the garbage collector (``gc.is_tracked`` is false).
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a dedupe window holds at least one id")
        self.size = size
        self._places: dict[str, int | Place] = {}
        self._order: dict[int, str] = {}  # sequence number -> id; the oldest is _order[_next - size]
        self._next = 0
        self._topics: dict[str, int] = {}
        self._topic_names: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._places)

    def check(self, record_id: str, place: Place) -> Place | None:
        """``None`` and remember the id if it is new (or seen at this very place); else where it was first routed."""
        places = self._places
        first = places.get(record_id)
        if first is not None:
            first = self._unpack(first)
            return None if first == place else first
        places[record_id] = self._pack(place)
        sequence = self._next
        self._order[sequence] = record_id
        self._next = sequence + 1
        if sequence >= self.size:
            del places[self._order.pop(sequence - self.size)]
        return None

    def _pack(self, place: Place) -> int | Place:
        topic, partition, offset = place
        code = self._topics.get(topic)
        if code is None:
            code = len(self._topics)
            if code >= 1 << _TOPIC_BITS:
                return place  # more topics than a code holds: kept as is (tracked by the collector, still correct)
            self._topics[topic] = code
            self._topic_names[code] = topic
        if not 0 <= partition < 1 << _PARTITION_BITS or offset < 0:
            return place
        return (offset << (_PARTITION_BITS + _TOPIC_BITS)) | (partition << _TOPIC_BITS) | code

    def _unpack(self, packed: int | Place) -> Place:
        if isinstance(packed, tuple):
            return packed
        return (
            self._topic_names[packed & ((1 << _TOPIC_BITS) - 1)],
            (packed >> _TOPIC_BITS) & ((1 << _PARTITION_BITS) - 1),
            packed >> (_PARTITION_BITS + _TOPIC_BITS),
        )
