"""Is Kafka there? A quick answer before a one-shot command waits out its metadata timeouts.

A command that finds no broker used to wait 10 s or more (librdkafka retries the
connection until its metadata request times out) and then printed librdkafka's
log lines around the error. Here: a TCP connect to each bootstrap server first
(a refused connection is certain at once: nothing listens there), then one
metadata request with a short timeout (something listens: is it a broker that
answers?). Either failure is one ``error:`` line naming the fix.

>>> from labelstream.settings import KafkaSettings
>>> bootstrap_addresses(KafkaSettings(bootstrap_servers="localhost:9092, SSL://[::1]:9093,kafka"))
[('localhost', 9092), ('::1', 9093), ('kafka', 9092)]
"""

from __future__ import annotations

import logging
import socket

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from labelstream.errors import ServiceUnavailable
from labelstream.kafka.config import admin_config
from labelstream.settings import KafkaSettings

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

#: seconds for the metadata request once a bootstrap server accepts a TCP connection (a broker
#: answers in well under a second, 0.5 s measured under load average ~25 on the shared 2-core machine)
METADATA_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0


def bootstrap_addresses(kafka: KafkaSettings) -> list[tuple[str, int]]:
    """(host, port) of each bootstrap server (a ``PROTOCOL://`` prefix and IPv6 brackets removed)."""
    addresses = []
    for server in kafka.bootstrap_servers.split(","):
        server = server.strip().rpartition("://")[2]
        if not server:
            continue
        host, sep, port = server.rpartition(":")
        if not sep or not port.isdigit() or (host.count(":") and not host.startswith("[")):
            host, port = server, "9092"  # no port given (a bare IPv6 address has no brackets)
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def _accepts_tcp(host: str, port: int, timeout: float) -> bool:
    try:
        socket.create_connection((host, port), timeout).close()
    except OSError:
        return False
    return True


def nothing_listens(kafka: KafkaSettings) -> bool:
    """True when no bootstrap server accepts a TCP connection: certain at once, no metadata timeout waited."""
    addresses = bootstrap_addresses(kafka)
    return bool(addresses) and not any(_accepts_tcp(host, port, CONNECT_TIMEOUT) for host, port in addresses)


def unreachable_message(kafka: KafkaSettings, reason: str) -> str:
    """The one error line of an unreachable Kafka: where, why, and the fix."""
    return (f"Kafka at {kafka.bootstrap_servers} is unreachable ({reason}); start it with 'make up', "
            "or point kafka.bootstrap_servers (LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS) at your brokers")


def unreachable_reason(kafka: KafkaSettings, metadata_timeout: float = METADATA_TIMEOUT) -> str | None:
    """None when a broker answers a metadata request; else why not, in a few words."""
    if nothing_listens(kafka):
        return "nothing accepts a connection there"
    admin = AdminClient({**admin_config(kafka), "logger": log})
    try:
        metadata = admin.list_topics(timeout=metadata_timeout)
    except KafkaException as exc:
        return f"no answer to a metadata request in {metadata_timeout:.0f} s: {exc.args[0].str()}"
    return None if metadata.brokers else "the cluster lists no brokers"


def require_kafka(kafka: KafkaSettings, metadata_timeout: float = METADATA_TIMEOUT) -> None:
    """Raise :class:`ServiceUnavailable` (one line, naming the fix) unless Kafka answers."""
    reason = unreachable_reason(kafka, metadata_timeout)
    if reason is not None:
        raise ServiceUnavailable(unreachable_message(kafka, reason))
