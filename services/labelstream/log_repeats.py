"""A log filter that lets one of a run of like messages through per window, with the count of those it held back.

The learner's Kafka client (aiokafka, under faust) logs "Unable connect to
node" and "Unable to update metadata" thousands of times a second while the
broker is down: 80,000 lines (17 MB) in a 34 s outage of the fault suite, so a
5-minute outage would write ~150 MB. Messages are alike when they come from
the same logger with the same template (``record.msg``, before its arguments).
librdkafka's clients (the labeler's, the review service's) log through
:func:`client_logger`: their lines share one template, so they are alike when
the facility, the client and the text but its numbers match
(:func:`librdkafka_key`); with no broker a labeler's two consumers logged a
failed connection every ~50 ms each, ~20 a second (681 lines in 17 s).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Hashable, Iterable

# the loggers of the learner's Kafka client that repeat themselves in an outage
AIOKAFKA_LOGGERS = (
    "aiokafka",
    "aiokafka.client",
    "aiokafka.conn",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)


_NUMBERS = re.compile(r"\d+")


def template_key(record: logging.LogRecord) -> Hashable:
    """Alike: the same logger and template."""
    return record.name, str(record.msg)


def librdkafka_key(record: logging.LogRecord) -> Hashable:
    """Alike: the same logger, facility, client and text but its numbers (confluent-kafka logs
    ``("%s [%s] %s", (facility, client, text))``).

    >>> def line(text): return logging.LogRecord("k", logging.ERROR, "", 0, "%s [%s] %s", ("FAIL", "consumer-2", text), None)
    >>> librdkafka_key(line("Connect failed (after 0ms)")) == librdkafka_key(line("Connect failed (after 12ms)"))
    True
    """
    args = record.args
    if isinstance(args, tuple) and len(args) == 3:
        return record.name, str(args[0]), str(args[1]), _NUMBERS.sub("#", str(args[2]))
    return template_key(record)


class RepeatFilter(logging.Filter):
    """Passes the first of like messages, then one per ``window_seconds``, saying how many it held back.

    >>> clock = [0.0]
    >>> quiet = RepeatFilter(window_seconds=10, clock=lambda: clock[0])
    >>> def say(msg): return logging.LogRecord("aiokafka.client", logging.ERROR, "", 0, msg, ("n1",), None)
    >>> [quiet.filter(say("Unable connect to node %s")) for _ in range(3)]
    [True, False, False]
    >>> clock[0] = 10.0
    >>> record = say("Unable connect to node %s")
    >>> quiet.filter(record), record.getMessage()
    (True, 'Unable connect to node n1 (2 like it held back in the last 10 s)')
    """

    def __init__(
        self,
        window_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        key: Callable[[logging.LogRecord], Hashable] = template_key,
    ) -> None:
        super().__init__()
        self.window_seconds = window_seconds
        self.clock = clock
        self.key = key
        self._runs: dict[Hashable, tuple[float, int]] = {}  # alike messages -> (passed at, held since)

    def filter(self, record: logging.LogRecord) -> bool:
        key = self.key(record)
        now = self.clock()
        passed = self._runs.get(key)
        if passed is not None and now - passed[0] < self.window_seconds:
            self._runs[key] = (passed[0], passed[1] + 1)
            return False
        held = passed[1] if passed is not None else 0
        self._runs[key] = (now, 0)
        if len(self._runs) > 1000:  # templates are few; a flood of distinct ones is not kept for ever
            self._runs = {key: (now, 0)}
        if held:
            suffix = f" ({held} like it held back in the last {self.window_seconds:.0f} s)"
            record.msg = str(record.msg) + suffix
        return True


def quiet_repeats(names: Iterable[str] = AIOKAFKA_LOGGERS, window_seconds: float = 10.0) -> RepeatFilter:
    """Install one :class:`RepeatFilter` on each of these loggers (a logger's filter sees what it logs itself)."""
    repeat = RepeatFilter(window_seconds)
    for name in names:
        logging.getLogger(name).addFilter(repeat)
    return repeat


def client_logger(name: str, window_seconds: float = 10.0) -> logging.Logger:
    """The logger to give a confluent-kafka client (``{"logger": client_logger(...)}``): its lines reach the
    service's log through Python's logging, a run of like lines as one a window (:func:`librdkafka_key`)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RepeatFilter) for f in logger.filters):
        logger.addFilter(RepeatFilter(window_seconds, key=librdkafka_key))
    return logger
