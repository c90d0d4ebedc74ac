"""Progress of a consumer group, read from its committed offsets: when a run starts, ends, and its measured window."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from labelstream.bench.cpu import CpuClocks, memory_mb
from labelstream.bench.results import ThroughputResult
from labelstream.kafka.config import consumer_config
from labelstream.kafka.topics import admin_client
from labelstream.processes import ServiceProcess
from labelstream.settings import Settings


def wait_group_stable(settings: Settings, group: str, members: int, timeout: float = 120) -> None:
    """Until ``group`` is stable with ``members`` members, each holding at least one partition."""
    from confluent_kafka import ConsumerGroupState

    admin = admin_client(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            (future,) = admin.describe_consumer_groups([group], request_timeout=10).values()
            description = future.result()
            if description.state == ConsumerGroupState.STABLE and len(description.members) == members and all(
                member.assignment.topic_partitions for member in description.members
            ):
                return
        except KafkaException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"group {group} not stable with {members} members in {timeout} s")


def committed_offsets(consumer: Consumer, partitions: list[TopicPartition]) -> list[int]:
    """The group's committed offset of each partition (0 where none)."""
    return [max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10)]


def wait_committed(
    settings: Settings,
    group: str,
    total: int,
    procs: list[ServiceProcess],
    window: tuple[float, float] = (0.0, 1.0),
    timeout: float = 900,
    each_partition: bool = False,
) -> ThroughputResult:
    """Poll the group's committed offsets; time and CPU while the committed share crosses ``window``.

    (0, 1): from the first commit to the last, over all partitions. With ``each_partition`` (the scaling runs,
    (0.2, 0.9)) the window opens once *every* partition has ``window[0]`` of its records committed and closes once
    *any* has ``window[1]``: with one labeler a partition, both labelers are at work for the whole window (past
    their start-up, before either runs out of records). The records must all be in the topic (its end offsets are
    read once, at the start).
    """
    watcher = Consumer(consumer_config(settings.kafka, group))
    topic = settings.topics.records
    partitions = [TopicPartition(topic, p) for p in sorted(watcher.list_topics(topic, timeout=10).topics[topic].partitions)]
    if each_partition:
        ends = [watcher.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
        opened, closed = partition_window(ends, window)
    else:
        begin, end = max(1, int(window[0] * total)), int(window[1] * total)
        opened = lambda done: sum(done) >= begin  # noqa: E731
        closed = lambda done: sum(done) >= end  # noqa: E731
    first: list[int] | None = None
    clocks: CpuClocks | None = None
    deadline = time.monotonic() + timeout
    done: list[int] = []
    try:
        while time.monotonic() < deadline:
            done = committed_offsets(watcher, partitions)
            if first is None and opened(done):
                first, clocks = done, CpuClocks([p.process.pid for p in procs])
            if first is not None and closed(done):
                result = clocks.result(sum(done) - sum(first))
                result.partition_records = [d - f for d, f in zip(done, first, strict=True)]
                memory = [memory_mb(p.process.pid) for p in procs]
                result.rss_mb = round(sum(m[0] for m in memory), 1)
                result.peak_rss_mb = round(sum(m[1] for m in memory), 1)
                return result
            for proc in procs:
                if not proc.alive:
                    raise RuntimeError(f"{proc.name} died:\n{proc.log_tail()}")
            time.sleep(0.05)
    finally:
        watcher.close()
    raise TimeoutError(f"only {sum(done)} of {total} offsets committed in {timeout} s")


def partition_window(ends: list[int], window: tuple[float, float]) -> tuple[Callable[[list[int]], bool], Callable[[list[int]], bool]]:
    """``(opened, closed)``: tests of the committed offsets of the partitions whose end offsets are ``ends``: opened
    once every partition has ``window[0]`` of its records committed, closed once any has ``window[1]``."""

    def opened(done: list[int]) -> bool:
        return all(d >= window[0] * e for d, e in zip(done, ends, strict=True))

    def closed(done: list[int]) -> bool:
        return any(d >= window[1] * e for d, e in zip(done, ends, strict=True))

    return opened, closed
