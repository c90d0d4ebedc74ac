"""Helpers shared by the tests (imported as ``stack_support``; conftest names are ambiguous)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from labelstream.settings import Settings, namespaced

REPO = Path(__file__).resolve().parents[1]
#: "1" while a test marked ``stack_outage`` runs (tests/conftest.py sets it; fault_harness.stack reads it)
STACK_OUTAGE_ENV = "LABELSTREAM_TEST_MAY_STOP_STACK"
# sockets bound and never listening, held for the test process's life (closed_port)
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A local port nothing listens on, for as long as this test process runs: connections to it are refused.

    Its socket stays bound (never listening) rather than closed, so no server
    another test starts meanwhile can take the port and answer instead.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    return sock.getsockname()[1]


def unique_settings(base: Settings, partitions: int = 3, **sections: dict) -> Settings:
    """A copy of ``base`` whose topics, groups and Redis keys are unique to one test (metrics on free ports)."""
    settings = namespaced(base, f"t{uuid.uuid4().hex[:8]}", partitions, **sections)
    return settings.model_copy(
        update={
            "labeler": settings.labeler.model_copy(update={"metrics_port": 0}),
            "learner": settings.learner.model_copy(update={"metrics_port": 0}),
        }
    )


def wait_for_consumer_group(settings: Settings, group: str, timeout: float = 60.0) -> None:
    """Until consumer group ``group`` has a member with partitions assigned (a consumer that started reading).

    For processes without a health endpoint (``reviewer-sim``): a test that
    goes on before they consume measures their start-up, not the system.
    """
    import time

    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            description = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
            if any(member.assignment.topic_partitions for member in description.members):
                return
        except Exception:  # noqa: BLE001 - the group does not exist yet, or the coordinator is moving
            pass
        time.sleep(0.5)
    raise AssertionError(f"consumer group {group!r} had no member reading after {timeout} s")
