"""Follows ``model-versions`` on a background thread and loads each new snapshot for a hot swap.

The hot path never waits on it: the labeler takes the loaded state between
two micro-batches (:meth:`ModelWatcher.take_pending`). A snapshot that fails
verification is reported and skipped; the current model stays. One that
cannot be loaded because Redis is away is tried again until it loads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import ValidationError

from labelstream.core.schemas import ModelVersion
from labelstream.core.snapshot import ModelState
from labelstream.errors import SnapshotRejected
from labelstream.kafka.config import consumer_config
from labelstream.settings import Settings
from labelstream.store.models import ModelRegistry

log = logging.getLogger("labelstream.model_watcher")

# While Redis is away, an announced version is loaded again this often.
RETRY_SECONDS = 2.0


class ModelWatcher:
    """Loads announced model versions newer than the live one."""

    def __init__(
        self, settings: Settings, registry: ModelRegistry, on_rejected: Callable[[int, str], None]
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.on_rejected = on_rejected
        self._pending: ModelState | None = None
        self._newest_seen = 0
        self._unloaded: int | None = None  # announced, not loaded yet (Redis away)
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, live_version: int) -> None:
        self._newest_seen = live_version
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def take_pending(self) -> ModelState | None:
        """The newest loaded state not yet taken (and forget it)."""
        if self._pending is None:
            return None
        with self._lock:
            state, self._pending = self._pending, None
        return state

    def _run(self) -> None:
        topic = self.settings.topics.model_versions
        consumer = Consumer(consumer_config(self.settings.kafka, "labelstream-model-watcher"))
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.1)
                if self._unloaded is not None and time.monotonic() >= self._retry_at:
                    self._load(self._unloaded)
                if msg is None or msg.error() is not None:
                    continue
                self._on_announcement(msg.value())
        finally:
            consumer.close()

    def _on_announcement(self, value: bytes | None) -> None:
        try:
            announcement = ModelVersion.model_validate_json(value or b"")
        except ValidationError as exc:
            log.warning("ignoring a malformed model-versions message: %s", exc.errors()[0]["msg"])
            return
        if announcement.model_name != self.settings.model.model_name or announcement.version <= self._newest_seen:
            return
        self._newest_seen = announcement.version
        self._load(announcement.version)

    def _load(self, version: int) -> None:
        """Load a version for the next swap; while Redis is away, try again every few seconds (not a rejection)."""
        self._unloaded = None
        try:
            state = self.registry.load(version)
        except SnapshotRejected as exc:
            self.on_rejected(version, str(exc))
            return
        except redis.RedisError as exc:
            log.warning("model version %d not loaded yet (%s); trying again", version, exc)
            self._unloaded, self._retry_at = version, time.monotonic() + RETRY_SECONDS
            return
        except Exception as exc:  # noqa: BLE001 - a broken pickle: keep the live model
            self.on_rejected(version, f"{type(exc).__name__}: {exc}")
            return
        if state is None:
            log.warning("model version %d announced but its snapshot is gone", version)
            return
        with self._lock:
            self._pending = state
