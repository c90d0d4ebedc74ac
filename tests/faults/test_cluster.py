"""A 3-broker KRaft cluster: kill -9 the leader of a ``records`` partition mid-stream, restart it later: 0 lost, 0 duplicated.

The cluster is ``deploy/stack.sh start kafka --brokers 3`` in the test's own
stack directory on free ports (the shared single broker stays as it is); topics
have replication 3 and ``min.insync.replicas`` 2; Redis is the shared one. The
labeler, the learner and the oracle reviewer-sim run as processes against the
cluster while records stream in; the broker leading partition 0 of ``records``
(and whatever else it leads: group or transaction coordinator, other
partitions) dies with SIGKILL, the stream goes on against the two survivors,
then the dead broker starts again and catches up.

Checked: every record gets exactly one outcome, no dead letters, every review
answered once with the true label and learned exactly once; the labeler
commits again after the kill; the partition has a new leader; the restarted
broker is back in every partition's in-sync replicas.

Size: ``LABELSTREAM_FAULTS_RECORDS`` (CI: 3000 at 200/s; ``bench/faults.py``
runs it at its ``--records`` and rate and writes the figures into RELIABILITY.md).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from fault_harness import (
    FULL_ENV,
    RECORDS_ENV,
    Fault,
    RecordStream,
    Services,
    audit,
    committed_records,
    figures,
    rate_wanted,
    reviewed_ids,
    seed_wanted,
    settle,
    wait_for,
    write_stream,
)

from labelstream.kafka.config import admin_config
from labelstream.kafka.topics import create_topics
from stack_support import REPO, unique_settings

pytestmark = pytest.mark.faults

BROKERS = 3
CI_RECORDS = 3_000
RATE = 200.0


def cluster_records() -> int:
    return int(os.environ.get(RECORDS_ENV) or CI_RECORDS) if os.environ.get(FULL_ENV) else CI_RECORDS


def cluster_rate(n: int) -> float:
    """CI: 200/s; the benchmark's size streams at its rate (what streams it in ~100 s)."""
    return rate_wanted(n) if os.environ.get(FULL_ENV) else RATE


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ``bind(0)`` and outgoing connections (Linux; else the IANA default)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 49_152, 65_535


def free_port_block(size: int, rng: random.Random) -> int:
    """The first of ``size`` consecutive free ports (node i: broker base + 2(i-1), controller that + 1).

    Outside the kernel's ephemeral range: a port from there (what ``bind(0)`` hands out) can be taken
    between this check and the JVM's bind (40 s under load) by any outgoing connection or ``bind(0)``
    on the machine, and again while the killed broker is down: then a node cannot bind and the test
    fails for a reason that has nothing to do with Kafka. The shared machine opens ~90 connections a
    minute (``ss`` TIME_WAIT count), about a 1 % chance per run to hit one of the 6 ports. Below the
    range only a process that names the port can take it (the worktrees' and CI's fixed ports are
    below 21000).
    """
    low, high = ephemeral_range()
    candidates = (21_000, low - size) if low - size > 21_000 else (high + 1, 65_000 - size)
    for _ in range(200):
        base = rng.randrange(*candidates)
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError(f"no {size} consecutive free ports in {candidates}")


class Cluster:
    """``deploy/stack.sh`` for a 3-broker Kafka in its own directory and ports."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rng = random.Random()
        self.use_ports(free_port_block(2 * BROKERS, self.rng))

    def use_ports(self, base: int) -> None:
        self.env = {
            **os.environ,
            "LABELSTREAM_STACK_DIR": str(self.directory),
            "LABELSTREAM_KAFKA_PORT": str(base),
            "LABELSTREAM_KAFKA_CONTROLLER_PORT": str(base + 1),
            "LABELSTREAM_KAFKA_HEAP": "384m",
        }
        self.bootstrap = ",".join(f"localhost:{base + 2 * i}" for i in range(BROKERS))

    def start(self) -> None:
        """All nodes; on other ports if another process took one of these meanwhile (stack.sh checks)."""
        for _attempt in range(3):
            result = self.run("start", "kafka", "--brokers", str(BROKERS))
            if result.returncode == 0 or "is taken by another process" not in result.stderr:
                break
            shutil.rmtree(self.directory, ignore_errors=True)
            self.use_ports(free_port_block(2 * BROKERS, self.rng))
        assert result.returncode == 0, f"stack.sh start failed:\n{result.stdout}\n{result.stderr}"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(REPO / "deploy" / "stack.sh"), *args], env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)

    def stack(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"stack.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def pid(self, node: int) -> int:
        return int((self.directory / "kafka" / f"node{node}" / "kafka.pid").read_text())

    def log_tails(self, lines: int = 30) -> str:
        """The brokers' logs, ends (printed when the test fails: a failure says what the cluster did)."""
        tails = []
        for log in sorted((self.directory / "logs").glob("kafka*.log")):
            tails.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(tails)


def partition_state(settings, topic: str) -> dict[int, tuple[int, list[int]]]:  # noqa: ANN001
    """Partition -> (leader node id, in-sync replicas); {} while no broker answers for the topic.

    Around a kill and a restart a metadata request can fail (its broker just died) or come back without
    the topic's partitions; the waits poll, so that is "not yet", never a failure of the test.
    """
    try:
        metadata = AdminClient(admin_config(settings.kafka)).list_topics(topic, timeout=10)
    except KafkaException:
        return {}
    meta = metadata.topics.get(topic)
    if meta is None or meta.error is not None:
        return {}
    return {p: (m.leader, sorted(m.isrs)) for p, m in meta.partitions.items()}


def leader_of(settings, topic: str, partition: int = 0) -> int:  # noqa: ANN001
    """The partition's leader, -1 when unknown right now."""
    return partition_state(settings, topic).get(partition, (-1, []))[0]


def all_in_sync(settings, topic: str) -> bool:  # noqa: ANN001
    state = partition_state(settings, topic)
    return bool(state) and all(len(isr) == BROKERS for _leader, isr in state.values())


def test_killing_a_partition_leader_of_a_3_broker_cluster_loses_nothing(redis_up, tmp_path):
    n, seed = cluster_records(), seed_wanted()
    rate = cluster_rate(n)
    cluster = Cluster(tmp_path / "cluster")
    started = time.monotonic()
    cluster.start()
    try:
        env = cluster.stack("env")
        assert f"LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS={cluster.bootstrap}" in env and "REPLICATION_FACTOR=3" in env, env
        base = redis_up.model_copy(update={"kafka": redis_up.kafka.model_copy(update={"bootstrap_servers": cluster.bootstrap})})
        settings = unique_settings(base, 3, topics={"replication_factor": BROKERS}, policy={"review_budget_share": 0.25})
        create_topics(settings)
        records_topic = settings.topics.records
        # every replica in sync from the start (a broker's metadata can be a moment behind the new topic: poll)
        wait_for(lambda: all_in_sync(settings, records_topic), 30, "the new topic replicated on all 3 brokers", 0.2)
        data = tmp_path / "stream.csv"
        payloads, truth = write_stream(data, n, seed, prefix="k")
        services = Services(settings, tmp_path / "logs")
        try:
            labeler, learner = services.start_loop(data)

            kill_fault = Fault("kill_partition_leader", at_record=int(n * 0.3))
            restart_fault = Fault("restart_broker", at_record=int(n * 0.6))
            stream = RecordStream(settings, list(payloads.values()), rate, limit=kill_fault.at_record).start()
            stream.wait_until(kill_fault.at_record)
            wait_for(lambda: committed_records(settings) > 0, 120, "a first commit")  # a wait, not a figure: room for load
            leader = wait_for(lambda: max(leader_of(settings, records_topic), 0), 30, "the leader of partition 0")
            committed = committed_records(settings)
            kill_fault.at = time.time()
            os.kill(cluster.pid(leader), signal.SIGKILL)
            stream.limit = restart_fault.at_record
            new_leader = wait_for(lambda: (state := leader_of(settings, records_topic)) not in (leader, -1) and state,
                                  60, "a new leader of partition 0")
            kill_fault.down_seconds = round(time.time() - kill_fault.at, 2)  # until partition 0 had a new leader
            wait_for(lambda: committed_records(settings) > committed, 180, "a labeler commit after the kill", 0.2)
            kill_fault.recovery_seconds = round(time.time() - kill_fault.at, 2)

            stream.wait_until(restart_fault.at_record)
            restart_fault.at = time.time()
            cluster.stack("start", "kafka")  # brings back the dead node only
            stream.limit = n
            wait_for(lambda: all_in_sync(settings, records_topic), 180, "the restarted broker back in every in-sync replica set")
            restart_fault.down_seconds = round(time.time() - restart_fault.at, 2)  # until in sync again
            stream.join(600)
            ledger = settle(settings, list(payloads), learner, timeout=180 + n / 200)
            result = audit(settings, payloads, truth, learner, ledger)
            faults = [kill_fault, restart_fault]
            figures("cluster_leader_kill", settings, result, faults, time.monotonic() - started, rate=rate, seed=seed,
                    brokers=BROKERS, killed_broker=leader, new_leader=new_leader)
        finally:
            services.stop_all()
    except BaseException:
        print(cluster.log_tails())  # pytest shows it with the failure
        raise
    finally:
        cluster.stack("stop", "kafka")

    reviewed = len(reviewed_ids(ledger))
    assert result.lost == 0, result.examples
    assert result.duplicated == 0, result.examples
    assert result.routed == n and result.dead_letters == 0
    assert result.corrections == result.distinct_corrections == reviewed
    assert result.learned == result.snapshot_learned == result.distinct_corrections
    assert result.human_labels == reviewed and result.conflicting_human_labels == 0
    assert result.final_labels_wrong == 0
