"""Notices a review ingest that has stopped taking requests while requests wait, so it can join the group again.

A consumer can stop fetching without raising an error: once in CI, after a
broker outage during which the ingest's static membership session expired,
the review service enqueued nothing for the 300 s the test waited, its loop
still turning (librdkafka 3437 describes a fenced variant, which does raise).
The watch asks, at most every ``check_seconds``, while the ingest reads nothing:

- *partitions held*: did the consumer's position move, and is any position
  below the partition's end (high watermark)? A position that stays below the
  end for ``stall_seconds`` is a stall. (``read_committed`` keeps the position
  at an open transaction of the labeler; the broker aborts one after its
  ``transaction.timeout.ms``, 30 s by default, so a transaction alone never
  lasts as long as the default 120 s.)
- *nothing held*: while the group's committed offsets do not move, did a
  partition's end move, or does a partition's end stay more than one offset
  past the committed one (a backlog: the last request is followed by at most
  one transaction marker)? Requests wait and no member takes them for
  ``stall_seconds``. The backlog case matters once the stream pauses: a
  consumer that lost the group at an outage's end, with the requests that came
  before, must not wait for new requests to be noticed. (Aborted transactions
  past the committed offsets look like a backlog too: the ingest commits its
  positions when they move past the committed offsets without a message, so
  such an offset range is committed by whoever holds the partition; at worst one
  needless rejoin for an instance that holds none.)

While the broker does not answer, the watch waits: riding out an outage is
the consumer's job, and its progress is judged again afterwards. But queries
that fail for ``stall_seconds`` in a row are a stall too: a static member whose
session timed out in an outage can stay without a group coordinator after the
broker is back (CI, and librdkafka issue 3437), and a new consumer costs
nothing in an outage that really lasts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

QUERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class IngestMarks:
    """What the watch saw at one check (partition -> offset)."""

    held: frozenset[int]
    positions: dict[int, int]
    ends: dict[int, int]
    committed: dict[int, int]

    def backlog(self) -> list[int]:
        """Partitions whose end is more than one offset (a transaction marker) past the group's committed offset."""
        return [p for p, end in sorted(self.ends.items()) if end - max(self.committed.get(p, 0), 0) > 1]

    def behind(self) -> list[int]:
        """Held partitions whose position is below their end."""
        return [p for p in sorted(self.held) if self.positions.get(p, 0) < self.ends.get(p, 0)]


class StallWatch:
    """Says when an ingest consumer made no progress for ``stall_seconds`` while requests waited.

    >>> watch = StallWatch("review", stall_seconds=60, check_seconds=5, clock=lambda: 0.0)
    >>> watch.progress()  # the ingest read something: the watch starts over
    >>> watch.stalled_for  # seconds without progress while requests wait (0: none wait)
    0.0
    """

    def __init__(
        self, topic: str, stall_seconds: float, check_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.topic = topic
        self.stall_seconds = stall_seconds
        self.check_seconds = check_seconds
        self.clock = clock
        self._marks: IngestMarks | None = None
        self._waiting_since: float | None = None
        self._failing_since: float | None = None  # since when every observation failed
        self._next_check = clock() + check_seconds

    @property
    def stalled_for(self) -> float:
        return 0.0 if self._waiting_since is None else self.clock() - self._waiting_since

    def progress(self) -> None:
        """The ingest read requests: no stall."""
        self._marks, self._waiting_since, self._failing_since = None, None, None

    def check(self, consumer: Consumer) -> str | None:
        """A description of the stall when there is one (then the watch starts over), else ``None``."""
        now = self.clock()
        if self.stall_seconds <= 0 or now < self._next_check:
            return None
        self._next_check = now + self.check_seconds
        try:
            marks = self._observe(consumer)
        except KafkaException as exc:
            # an outage, or a consumer that lost its group coordinator for good (the static member of librdkafka
            # 3437, whose queries about the group fail long after the broker is back): failing for stall_seconds
            # in a row is a stall too, and a new consumer is harmless in an outage
            self._failing_since = self._failing_since if self._failing_since is not None else now
            return self._lasted(self._failing_since, now, f"the consumer's queries about its group failed ({exc})")
        self._failing_since = None
        previous, self._marks = self._marks, marks
        waiting = self._waiting(previous, marks)
        if not waiting:
            self._waiting_since = None
            return None
        self._waiting_since = self._waiting_since if self._waiting_since is not None else now
        return self._lasted(self._waiting_since, now, waiting)

    def _lasted(self, since: float, now: float, what: str) -> str | None:
        """``what`` and how long, once it has lasted ``stall_seconds`` (then the watch starts over), else ``None``."""
        if now - since < self.stall_seconds:
            return None
        self.progress()
        return f"{what} for {now - since:.0f} s"

    @staticmethod
    def _waiting(previous: IngestMarks | None, marks: IngestMarks) -> str:
        """Why requests wait with no progress since ``previous`` ('' when they do not, or progress was made)."""
        if previous is None or previous.held != marks.held:
            return ""  # first look, or a rebalance: judge from the next check on
        if marks.held:
            moved = any(previous.positions.get(p) != marks.positions.get(p) for p in marks.held)
            behind = marks.behind()
            return "" if moved or not behind else f"positions of partitions {behind} below their ends, not moving"
        if previous.committed != marks.committed:
            return ""  # another member of the group consumes
        grew = [p for p, end in marks.ends.items() if end > previous.ends.get(p, end)]
        if grew:
            return f"no partition held while partitions {grew} grew and the group committed nothing"
        backlog = marks.backlog()
        return f"no partition held while partitions {backlog} hold requests past the group's offsets" if backlog else ""

    def _observe(self, consumer: Consumer) -> IngestMarks:
        metadata = consumer.list_topics(self.topic, timeout=QUERY_TIMEOUT).topics[self.topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        partitions = sorted(metadata.partitions)
        held = frozenset(tp.partition for tp in consumer.assignment() if tp.topic == self.topic)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), QUERY_TIMEOUT, False)[1] for p in partitions}
        committed = {
            tp.partition: tp.offset
            for tp in consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=QUERY_TIMEOUT)
        }
        positions = {}
        for tp in consumer.position([TopicPartition(self.topic, p) for p in sorted(held)]):
            # not fetched yet: the consumer starts at the committed offset (or the beginning)
            positions[tp.partition] = tp.offset if tp.offset >= 0 else max(committed.get(tp.partition, 0), 0)
        return IngestMarks(held, positions, ends, committed)
