"""Create and describe labelstream's topics (idempotent)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from labelstream.errors import ServiceUnavailable
from labelstream.kafka.config import admin_config, consumer_config
from labelstream.settings import Settings

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
    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: str
    retention_ms: str
    messages: int

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
    return AdminClient(admin_config(settings.kafka))

def existing_topics(admin: AdminClient, timeout: float = 10.0) -> dict[str, int]:
    """Topic name -> partition count; :class:`ServiceUnavailable` when the broker does not answer."""
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise ServiceUnavailable(
            f"Kafka did not answer ({exc.args[0]}); is the stack up? (make up, or deploy/stack.sh start)"
        ) from exc
    return {name: len(t.partitions) for name, t in metadata.topics.items() if not t.error}

def create_topics(settings: Settings, timeout: float = 30.0) -> tuple[list[str], list[str]]:
    """Create the topics that do not exist; return (created, already present)."""
    admin = admin_client(settings)
    present = existing_topics(admin)
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


def describe_topics(settings: Settings) -> list[TopicInfo]:
    """Partitions, replication, retention and message count of every labelstream topic."""
    admin = admin_client(settings)
    metadata = admin.list_topics(timeout=10)
    names = [spec.name for spec in topic_specs(settings) if spec.name in metadata.topics]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    configs = {res.name: fut.result() for res, fut in admin.describe_configs(resources).items()} if names else {}

    consumer = Consumer(consumer_config(settings.kafka, "labelstream-describe"))
    infos = []
    try:
        for name in names:
            partitions = metadata.topics[name].partitions
            messages = 0
            for pid in partitions:
                low, high = _watermarks(consumer, TopicPartition(name, pid))
                messages += high - low
            replicas = len(next(iter(partitions.values())).replicas) if partitions else 0
            conf = configs[name]
            infos.append(
                TopicInfo(
                    name, len(partitions), replicas, conf["cleanup.policy"].value, conf["retention.ms"].value, messages
                )
            )
    finally:
        consumer.close()
    return infos
