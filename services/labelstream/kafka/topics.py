"""Create and describe labelstream's topics (idempotent)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata, ConfigResource, NewTopic

from labelstream.errors import ServiceUnavailable
from labelstream.kafka.config import admin_config, consumer_config
from labelstream.kafka.reachability import require_kafka
from labelstream.settings import Settings

# librdkafka's own log lines (connection refused, ...) go to this logger, silent unless the
# program configures logging (the services do; one-shot CLI commands report the error instead)
log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

# Roles whose topics are compacted (latest value per key) and single-partition.
COMPACTED_ROLES = {"model_versions"}
SINGLE_PARTITION_ROLES = {"model_versions", "events"}

@dataclass(frozen=True)
class TopicSpec:
    role: str
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]

@dataclass(frozen=True)
class TopicInfo:
    """A topic as the broker has it. ``messages`` counts what a reader sees (None when not counted);
    ``offsets`` is the span of offsets, which also holds transaction markers and aborted records."""

    role: str
    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: str
    retention_ms: int
    messages: int | None
    offsets: int

def topic_specs(settings: Settings) -> list[TopicSpec]:
    """What every topic should look like, from settings."""
    topics = settings.topics
    specs = []
    for role, name in topics.data_topics().items():
        if role in COMPACTED_ROLES:
            config = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "3600000"}
        else:
            config = {"cleanup.policy": "delete", "retention.ms": str(topics.retention_ms)}
        partitions = 1 if role in SINGLE_PARTITION_ROLES else topics.partitions
        specs.append(TopicSpec(role, name, partitions, topics.replication_factor, config))
    return specs

def admin_client(settings: Settings) -> AdminClient:
    return AdminClient({**admin_config(settings.kafka), "logger": log})

def existing_topics(admin: AdminClient, timeout: float = 10.0, bootstrap_servers: str = "") -> dict[str, int]:
    """Topic name -> partition count; :class:`ServiceUnavailable` when the broker does not answer."""
    metadata = existing_metadata(admin, timeout, bootstrap_servers)
    return {name: len(t.partitions) for name, t in metadata.topics.items() if not t.error}

def create_topics(settings: Settings, timeout: float = 30.0) -> tuple[list[str], list[str]]:
    """Create the topics that do not exist; return (created, already present)."""
    require_kafka(settings.kafka)  # at once when no broker is there, not after the metadata timeout
    admin = admin_client(settings)
    present = existing_topics(admin, bootstrap_servers=settings.kafka.bootstrap_servers)
    missing = [spec for spec in topic_specs(settings) if spec.name not in present]
    if missing:
        new = [NewTopic(s.name, s.partitions, s.replication_factor, config=s.config) for s in missing]
        for future in admin.create_topics(new, operation_timeout=timeout).values():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != 36:  # TOPIC_ALREADY_EXISTS: another process won the race
                    raise
    created = [s.name for s in missing]
    wait_for_leaders(admin, created, timeout)
    return created, [s.name for s in topic_specs(settings) if s.name not in created]


def wait_for_leaders(admin: AdminClient, topics: list[str], timeout: float = 30.0) -> None:
    """Until every partition of ``topics`` has a leader (a new topic is not usable before)."""
    deadline = time.monotonic() + timeout
    while topics and time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=10).topics
        if all(
            name in metadata and metadata[name].partitions and all(p.leader >= 0 for p in metadata[name].partitions.values())
            for name in topics
        ):
            return
        time.sleep(0.1)

def _watermarks(consumer: Consumer, partition: TopicPartition, attempts: int = 20) -> tuple[int, int]:
    """Low and high offsets, riding out a leader election (right after a broker start or a topic creation)."""
    for _ in range(attempts - 1):
        try:
            return consumer.get_watermark_offsets(partition, timeout=5)
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.code() == KafkaError.NOT_LEADER_FOR_PARTITION):
                raise
            time.sleep(0.25)
    return consumer.get_watermark_offsets(partition, timeout=5)


def describe_topics(
    settings: Settings, count: bool = True, on_progress: Callable[[int, int], None] | None = None
) -> list[TopicInfo]:
    """Partitions, replication, retention and message count of every labelstream topic.

    ``count`` reads the topics (read_committed) to count their messages: the
    offset span alone overcounts, as every transaction leaves a marker in each
    partition it wrote (a labeler writes one per batch). ``on_progress(read,
    total)`` follows the reading, in offsets.
    """
    require_kafka(settings.kafka)
    admin = admin_client(settings)
    metadata = existing_metadata(admin, bootstrap_servers=settings.kafka.bootstrap_servers)
    roles = {spec.name: spec.role for spec in topic_specs(settings)}
    names = [name for name in roles if name in metadata.topics]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    configs = {res.name: fut.result() for res, fut in admin.describe_configs(resources).items()} if names else {}

    consumer = Consumer(consumer_config(settings.kafka, "labelstream-describe", **{"enable.partition.eof": True, "logger": log}))
    try:
        spans = {
            (name, pid): _watermarks(consumer, TopicPartition(name, pid)) for name in names for pid in metadata.topics[name].partitions
        }
        counts = count_messages(consumer, spans, on_progress) if count else None
    finally:
        consumer.close()
    infos = []
    for name in names:
        partitions = metadata.topics[name].partitions
        keys = [(name, pid) for pid in partitions]
        replicas = len(next(iter(partitions.values())).replicas) if partitions else 0
        conf = configs[name]
        infos.append(
            TopicInfo(
                roles[name], name, len(partitions), replicas, conf["cleanup.policy"].value, int(conf["retention.ms"].value),
                None if counts is None else sum(counts[key] for key in keys), sum(high - low for low, high in (spans[k] for k in keys)),
            )
        )
    return infos


def existing_metadata(admin: AdminClient, timeout: float = 10.0, bootstrap_servers: str = "") -> ClusterMetadata:
    """The cluster metadata; :class:`ServiceUnavailable` when the broker does not answer."""
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        where = f" at {bootstrap_servers}" if bootstrap_servers else ""
        raise ServiceUnavailable(
            f"Kafka{where} did not answer ({exc.args[0].str()}); is the stack up (make up)? "
            "Else set kafka.bootstrap_servers (LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS)"
        ) from exc


def count_messages(
    consumer: Consumer,
    spans: dict[tuple[str, int], tuple[int, int]],
    on_progress: Callable[[int, int], None] | None = None,
    stall_seconds: float = 30.0,
) -> dict[tuple[str, int], int]:
    """Messages a read_committed reader sees in each ``(topic, partition)`` between its ``(low, high)`` offsets.

    ``consumer`` must have ``enable.partition.eof``: a partition is done at its
    end-of-partition event (with read_committed, the last stable offset).
    """
    counts = dict.fromkeys(spans, 0)
    pending = {key for key, (low, high) in spans.items() if high > low}
    position = {key: spans[key][0] for key in spans}
    total = sum(high - low for low, high in spans.values())
    if not pending:
        return counts
    consumer.assign([TopicPartition(topic, pid, spans[(topic, pid)][0]) for topic, pid in pending])
    last_progress = time.monotonic()
    while pending:
        messages = consumer.consume(10_000, timeout=1.0)
        for message in messages:
            key = (message.topic(), message.partition())
            error = message.error()
            if error is None:
                counts[key] += 1
                position[key] = message.offset() + 1
            elif error.code() == KafkaError._PARTITION_EOF:
                pending.discard(key)
                position[key] = spans[key][1]
            elif not error.retriable():
                raise KafkaException(error)
        if messages:
            last_progress = time.monotonic()
            if on_progress is not None:
                on_progress(sum(position[key] - spans[key][0] for key in spans), total)
        elif time.monotonic() - last_progress > stall_seconds:
            raise ServiceUnavailable(f"Kafka stopped answering while counting messages of {sorted({t for t, _ in pending})}")
    consumer.unassign()
    return counts
