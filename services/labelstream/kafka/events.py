"""Publish :class:`~labelstream.core.schemas.Event` messages (drift, rollback, rejected model, ...) for ops."""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka import Producer

from labelstream.core.schemas import Event, EventKind
from labelstream.kafka.config import producer_config
from labelstream.log_repeats import client_logger
from labelstream.settings import Settings

log = logging.getLogger(__name__)

#: the events producer's client lines (a run of like lines once a window)
KAFKA_LOGGER = "labelstream.events.kafka"


class EventPublisher:
    """A small idempotent producer for the ``events`` topic (outside any transaction).

    Events are rare, so nothing else would serve the client between them: a daemon
    thread polls it, which sends its log lines (a broker outage's failed connections,
    ~5 a second) through the service's logging as they happen; ``flush`` stops it.
    """

    def __init__(self, settings: Settings, service: str) -> None:
        self.topic = settings.topics.events
        self.service = service
        self._producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}), logger=client_logger(KAFKA_LOGGER))
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve, name="events-poll", daemon=True)
        self._poller.start()

    def publish(self, kind: EventKind, **detail: Any) -> Event:
        event = Event(kind=kind, service=self.service, detail=detail)
        log.info("event %s %s", kind, detail)
        self._producer.produce(self.topic, key=kind.encode(), value=event.model_dump_json().encode())
        return event

    def flush(self, timeout: float = 10.0) -> int:
        """Deliver what was published (at most ``timeout`` seconds); the messages left. Ends the polling."""
        self._stop.set()
        self._poller.join(2.0)
        return self._producer.flush(timeout)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.5)
