"""Helpers of the labeler's tests (imported as ``labeler_support``): a labeler on a thread of the test process.

In-process so that a test can inject a failure into it (a producer that
fails, an encoder that raises); the broker, Redis and topics stay real.
"""

from __future__ import annotations

import threading

from labelstream.labeler import Labeler
from labelstream.settings import Settings


class RunningLabeler:
    """``with RunningLabeler(settings) as labeler:`` runs :meth:`Labeler.run` on a thread until the block ends."""

    def __init__(self, settings: Settings, instance: str = "0", **kwargs) -> None:
        self.stalls: list[str] = []
        self.labeler = Labeler(settings, instance, on_stall=self.stalls.append, **kwargs)
        self.thread = threading.Thread(target=self.labeler.run, name=f"labeler-{instance}", daemon=True)

    def __enter__(self) -> Labeler:
        self.thread.start()
        return self.labeler

    def __exit__(self, *exc: object) -> None:
        self.labeler.stop()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the labeler did not stop"
        assert self.stalls == [], self.stalls


def limit_message_bytes(settings: Settings, topics: list[str], max_bytes: int) -> None:
    """Set the topics' ``max.message.bytes`` (the broker refuses larger batches)."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    from labelstream.kafka.topics import admin_client

    entry = ConfigEntry("max.message.bytes", str(max_bytes), incremental_operation=AlterConfigOpType.SET)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry]) for topic in topics]
    admin = admin_client(settings)  # held until the futures resolve
    for future in admin.incremental_alter_configs(resources).values():
        future.result()
