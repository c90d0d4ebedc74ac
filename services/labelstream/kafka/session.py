"""Notices a consumer's group session timing out, from librdkafka's own log (SESSTMOUT).

A static group member (``group.instance.id``) whose session times out, e.g.
in a broker outage longer than ``session.timeout.ms``, is meant to rejoin by
itself; sometimes it never does and raises nothing (librdkafka issue 3437;
twice in CI the review service's ingest logged "session timed out ...
rejoining group" and took nothing for 5 minutes). The services replace such a
consumer themselves: :func:`session_logger` gives the consumer a logger of its
own (pass it as ``Consumer(config, logger=...)``; its lines still reach the
service's log) whose :class:`SessionTimeouts` handler counts the timeouts.
"""

from __future__ import annotations

import logging

from labelstream.log_repeats import RepeatFilter, librdkafka_key


class SessionTimeouts(logging.Handler):
    """Counts librdkafka's "session timed out" log lines; lets every line through to the parent logger.

    >>> timeouts = SessionTimeouts()
    >>> timeouts.emit(logging.LogRecord("kafka", logging.WARNING, "", 0, "%s [%s] %s", ("SESSTMOUT", "c#1", "..."), None))
    >>> timeouts.emit(logging.LogRecord("kafka", logging.INFO, "", 0, "%s [%s] %s", ("FAIL", "c#1", "..."), None))
    >>> timeouts.new()  # once each
    True
    >>> timeouts.new()
    False
    """

    def __init__(self) -> None:
        super().__init__()
        self._timed_out = False

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args and record.args[0] == "SESSTMOUT":
            self._timed_out = True

    def new(self) -> bool:
        """Whether a timeout came since the last call."""
        fresh, self._timed_out = self._timed_out, False
        return fresh


def session_logger(parent: logging.Logger) -> tuple[logging.Logger, SessionTimeouts]:
    """A logger for one consumer (under ``parent``, not registered: another consumer neither counts its timeouts nor
    keeps it alive) and the handler that counts its session timeouts; like lines pass once per 10 s (the first
    timeout's line always does)."""
    timeouts = SessionTimeouts()
    logger = logging.Logger(f"{parent.name}.kafka")
    logger.parent = parent
    logger.addFilter(RepeatFilter(key=librdkafka_key))  # ~20 failed connections a second in an outage
    logger.addHandler(timeouts)
    return logger, timeouts
