"""Publish :class:`~labelstream.core.schemas.Event` messages (drift, rollback, rejected model, ...) for ops."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Producer

from labelstream.core.schemas import Event, EventKind
from labelstream.kafka.config import producer_config
from labelstream.settings import Settings

log = logging.getLogger(__name__)


class EventPublisher:
    """A small idempotent producer for the ``events`` topic (outside any transaction)."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.topic = settings.topics.events
        self.service = service
        self._producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))

    def publish(self, kind: EventKind, **detail: Any) -> Event:
        event = Event(kind=kind, service=self.service, detail=detail)
        log.info("event %s %s", kind, detail)
        self._producer.produce(self.topic, key=kind.encode(), value=event.model_dump_json().encode())
        self._producer.poll(0)
        return event

    def flush(self, timeout: float = 10.0) -> int:
        return self._producer.flush(timeout)
