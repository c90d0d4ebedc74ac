"""``labelstream bench throughput``: the labeler side by side with raw Kafka pass-through and a Quix Streams peer, in one run.

Every figure comes from the local broker in the same run:

1. pass-through (confluent-kafka consume -> JSON parse -> produce): the limit;
2. the same pass-through as a faust agent (``take`` batches);
3. the real labeler process (transactions on, default model and policy, a
   warm model version published first) from an empty group to all outcomes
   committed, and the Quix Streams peer (:mod:`labelstream.bench.quix_peer`)
   doing the same job; 1 and 3 in ``repeat`` interleaved rounds, reported as
   medians of the ratios measured within a round (the machine is shared);
4. end-to-end latency (record produced -> outcome visible to a read_committed
   consumer) at fixed offered rates;
5. correction -> new model version live in the labeler;
6. one vs two labeler processes on a two-partition topic, in ``scaling_rounds`` interleaved pairs (median ratio),
   measured while every partition is past 20 % and none past 90 % of its records, with each process's CPU and
   CPU wait (``--part scaling`` runs this part alone).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from labelstream.bench.peer import peer_sink_topics, start_peer
from labelstream.bench.workload import BENCH_NOISE, synthetic_records, warm_state
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.kafka.topics import admin_client, create_topics
from labelstream.labeler.trace import describe as describe_trace
from labelstream.labeler.trace import summarize as summarize_trace
from labelstream.processes import ServiceProcess, service
from labelstream.settings import Settings, namespaced
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

Say = Callable[[str], None]


@dataclass
class ThroughputResult:
    records: int
    seconds: float
    cpu_seconds: float | None = None
    machine_busy: float | None = None
    """Share of all CPUs busy during the run (any process): near 1, the machine is the bound."""
    rss_mb: float | None = None
    """Resident memory of the process(es) at the end of the measured window (MiB)."""
    peak_rss_mb: float | None = None
    routing: dict[str, float] | None = None
    """Share of the records by outcome (label, review, deferred, dead_letter), from the labelers' metrics."""
    cpu_shares: list[float] | None = None
    """CPU of each process during the run, in cores (1.0: one core all the time)."""
    broker_cpu_share: float | None = None
    """CPU of the local Kafka broker during the run, in cores (``None``: no local broker found)."""
    bench_cpu_share: float | None = None
    """CPU of the benchmark's own process during the run (producing the records, watching the offsets), in cores."""
    cpu_wait_shares: list[float] | None = None
    """Of each process, seconds a second its threads were runnable but waiting for a CPU (summed over its threads):
    near 0, it did not want more CPU than it got."""
    cpu_pressure: float | None = None
    """Share of the run in which some task of the machine was runnable but waiting for a CPU (/proc/pressure/cpu)."""
    partition_records: list[int] | None = None
    """Records committed in the measured window, by partition (one labeler a partition in the scaling runs)."""

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def cpu_seconds_per_1k(self) -> float | None:
        return None if self.cpu_seconds is None else self.cpu_seconds / self.records * 1000

    @property
    def cpu_us_per_record(self) -> float | None:
        return None if self.cpu_seconds is None else self.cpu_seconds / self.records * 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "cpu_seconds_per_1k": None if self.cpu_seconds is None else round(self.cpu_seconds_per_1k, 4),
            "cpu_us_per_record": None if self.cpu_seconds is None else round(self.cpu_us_per_record, 2),
            "machine_busy": None if self.machine_busy is None else round(self.machine_busy, 3),
            "rss_mb": self.rss_mb,
            "peak_rss_mb": self.peak_rss_mb,
            "routing": self.routing,
            "cpu_shares": None if self.cpu_shares is None else [round(x, 3) for x in self.cpu_shares],
            "broker_cpu_share": None if self.broker_cpu_share is None else round(self.broker_cpu_share, 3),
            "bench_cpu_share": None if self.bench_cpu_share is None else round(self.bench_cpu_share, 3),
            "cpu_wait_shares": None if self.cpu_wait_shares is None else [round(x, 3) for x in self.cpu_wait_shares],
            "cpu_pressure": None if self.cpu_pressure is None else round(self.cpu_pressure, 3),
            "partition_records": self.partition_records,
        }


@dataclass
class BenchConfig:
    records: int = 200_000
    latency_seconds: float = 20.0
    latency_rates: tuple[int, ...] = (1_000, 10_000)
    corrections: int = 20
    scale_records: int = 400_000
    log_dir: Path = field(default_factory=lambda: Path(".stack") / "bench")
    repeat: int = 3
    """Rounds of pass-through / labeler / peer, interleaved; the report gives medians."""
    peer: bool = True
    peer_venv: Path = field(default_factory=lambda: Path(".stack") / "quix-venv")
    scaling_rounds: int = 2
    """Pairs of one-labeler / two-labeler runs, interleaved (one, two, two, one, ...); the report gives the median ratio."""

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(records=30_000, latency_seconds=8.0, corrections=8, scale_records=20_000, repeat=1, scaling_rounds=1)


class ThroughputBench:
    """Runs every part of the throughput benchmark on its own namespace of topics."""

    def __init__(self, settings: Settings, config: BenchConfig, say: Say = print) -> None:
        self.base = settings
        self.config = config
        self.say = say
        self.run_id = uuid.uuid4().hex[:6]
        self._namespaces: list[Settings] = []

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        config = self.config
        results: dict[str, Any] = {
            "machine": machine(), "config": {"records": config.records, "repeat": config.repeat, "noise": BENCH_NOISE,
                       "scaling_rounds": config.scaling_rounds, "scale_records": config.scale_records},
        }
        try:
            settings = self._namespace("main", partitions=3)
            self.say(f"producing {config.records} records...")
            produce_records(settings, settings.topics.records, config.records)
            rounds: dict[str, list[dict[str, Any]]] = {"passthrough": [], "labeler": [], "peer": []}
            for round_ in range(1, config.repeat + 1):
                self.say(f"round {round_} of {config.repeat}")
                passthrough = self._passthrough("confluent", settings)
                rounds["passthrough"].append(passthrough.as_dict())
                self.say(f"  pass-through: {passthrough.records_per_second:,.0f} records/s")
                labeler = self._labeler_throughput(settings, instances=1, total=config.records)
                rounds["labeler"].append(labeler.as_dict())
                self.say(f"  labeler: {labeler.records_per_second:,.0f} records/s, RSS {labeler.rss_mb} MiB")
                if config.peer:
                    peer = self._peer(settings)
                    rounds["peer"].append(peer.as_dict())
                    self.say(f"  Quix Streams peer: {peer.records_per_second:,.0f} records/s")
            results["rounds"] = rounds
            for key, runs in rounds.items():
                if runs:
                    results[key] = median_run(runs)
            results["labeler_vs_passthrough"] = median_ratio(rounds["labeler"], rounds["passthrough"])
            if rounds["peer"]:
                results["labeler_vs_peer"] = median_ratio(rounds["labeler"], rounds["peer"])
            self.say(
                f"labeler / pass-through {results['labeler_vs_passthrough']:.2f}"
                + (f", labeler / peer {results['labeler_vs_peer']:.2f}" if rounds["peer"] else "") + " (medians)"
            )
            faust_result = self._passthrough("faust", settings)
            results["faust"] = faust_result.as_dict()
            self.say(f"faust pass-through: {faust_result.records_per_second:,.0f} records/s")
            results["latency"] = {str(rate): self._latency(rate) for rate in config.latency_rates}
            results["model_update"] = self._model_update_latency()
            results["scaling"] = self._scaling()
            results["load_average"] = list(os.getloadavg())
        finally:
            self._clean_up()
        return results

    def run_scaling(self) -> dict[str, Any]:
        """Only the scaling part (6): one vs two labelers (``labelstream bench throughput --part scaling``)."""
        results: dict[str, Any] = {
            "machine": machine(), "config": {"scale_records": self.config.scale_records,
                                             "scaling_rounds": self.config.scaling_rounds, "noise": BENCH_NOISE},
        }
        try:
            results["scaling"] = self._scaling()
            results["load_average"] = list(os.getloadavg())
        finally:
            self._clean_up()
        return results

    def _namespace(self, name: str, partitions: int) -> Settings:
        settings = namespaced(self.base, f"bench-{self.run_id}-{name}", partitions)
        create_topics(settings)
        registry = registry_for(settings)
        registry.publish(warm_state(settings, noise=BENCH_NOISE))
        self._namespaces.append(settings)
        return settings

    def _clean_up(self) -> None:
        admin = admin_client(self.base)
        topics = [t for s in self._namespaces for t in s.topics.data_topics().values()]
        topics += [f"{s.topics.records}.sink-{kind}" for s in self._namespaces for kind in ("confluent", "faust")]
        topics += [t for s in self._namespaces for t in peer_sink_topics(s)]
        if topics:
            for future in admin.delete_topics(topics, operation_timeout=30).values():
                try:
                    future.result()
                except Exception:  # noqa: BLE001 - best effort (sink topics may not exist)
                    pass
        client = connect(self.base.redis)
        for settings in self._namespaces:
            keys = list(client.scan_iter(f"{settings.redis.key_prefix}:*", count=1000))
            if keys:
                client.delete(*keys)

    # -- 1 and 2: pass-through -----------------------------------------------------------------

    def _passthrough(self, kind: str, settings: Settings) -> ThroughputResult:
        sink = f"{settings.topics.records}.sink-{kind}"
        from confluent_kafka.admin import NewTopic

        admin = admin_client(settings)
        if sink not in admin.list_topics(timeout=10).topics:  # made by the first round
            admin.create_topics([NewTopic(sink, settings.topics.partitions, 1)])[sink].result()
        command = [
            sys.executable, "-m", "labelstream.bench.passthrough", kind,
            "--bootstrap", settings.kafka.bootstrap_servers, "--source", settings.topics.records, "--sink", sink,
            "--count", str(self.config.records),
            "--batch-size", str(settings.labeler.batch_size), "--wait-ms", str(settings.labeler.batch_max_wait_ms),
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        found = out.stdout.rfind('{"records"')
        if found < 0:
            raise RuntimeError(f"{kind} pass-through failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        data = json.loads(out.stdout[found:].splitlines()[0])
        return ThroughputResult(data["records"], data["seconds"], data["cpu_seconds"])

    # -- 3: the labeler ------------------------------------------------------------------------

    def _labeler_throughput(
        self, settings: Settings, instances: int, total: int, window: tuple[float, float] = (0.0, 1.0),
        records: list[tuple[bytes, bytes]] | None = None,
    ) -> ThroughputResult:
        """From an empty group to every input offset committed (offsets commit with the outputs).

        With ``records``, the topic is empty until every labeler holds its partitions (the group is stable):
        then they are produced, so that no labeler starts with another's share of the work, and ``window`` is
        taken on each partition (:func:`wait_committed`'s ``each_partition``).
        """
        group = f"{settings.labeler.group_id}-x{instances}-{uuid.uuid4().hex[:4]}"
        run_settings = settings.model_copy(
            update={"labeler": settings.labeler.model_copy(update={"group_id": group, "transactional_id": group})}
        )
        procs = [service(run_settings, "labeler", self.config.log_dir, instance=str(i)).start() for i in range(instances)]
        try:
            for proc in procs:
                proc.wait_until_serving()
            if records is not None:
                wait_group_stable(run_settings, group, instances)
                produce_made(run_settings, records)
            result = wait_committed(run_settings, group, total, procs, window, each_partition=records is not None)
            result.routing = routing_shares([proc.metrics_text() for proc in procs])
            return result
        finally:
            for proc in procs:
                proc.stop()

    def _peer(self, settings: Settings) -> ThroughputResult:
        """The Quix Streams peer, timed like the labeler: its group's committed offsets, its process's CPU."""
        group = f"bench-quix-{uuid.uuid4().hex[:6]}"
        peer = start_peer(settings, group, self.config.log_dir, self.config.peer_venv, self.say)
        try:
            result = wait_committed(settings, group, self.config.records, [peer])
        finally:
            peer.stop()
        printed = peer.result()
        if printed and printed["records"]:
            result.routing = {"label": round(printed["labels"] / printed["records"], 4),
                              "review": round(printed["reviews"] / printed["records"], 4)}
        return result

    # -- 4: latency ----------------------------------------------------------------------------

    def _latency(self, rate: int) -> dict[str, Any]:
        """The labeler's latency at ``rate``, split at the outcome's produce time; then the floor: the same
        transaction cycle with nothing in it (:func:`~labelstream.bench.passthrough.transactional_passthrough`)."""
        settings = self._namespace(f"lat{rate}", partitions=3)
        trace = (self.config.log_dir / f"trace-{self.run_id}-{rate}.jsonl").absolute()
        settings = settings.model_copy(update={"labeler": settings.labeler.model_copy(update={"trace_file": str(trace)})})
        proc = service(settings, "labeler", self.config.log_dir, instance="0").start()
        try:
            proc.wait_until_serving()
            time.sleep(2)  # let the group settle before measuring
            began = time.time()
            cpu = CpuWindow({"labeler": proc.process.pid, "bench": os.getpid()})
            latencies, parts, since_start = measure_latency(settings, rate, self.config.latency_seconds, cpu.clock)
        finally:
            proc.stop()
        summary = percentiles(latencies)
        summary["cpu_cores"] = cpu.cores
        summary["transactions"] = summarize_trace(trace, settings.labeler.batch_size, since=began + STEADY_AFTER)
        summary["offered_rate"] = rate
        summary["to_outcome"] = percentiles(parts[0])
        summary["outcome_to_visible"] = percentiles(parts[1])
        summary["steady"] = steady(latencies, since_start)
        self.say(
            f"latency at {rate}/s: p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms"
            f" (to the outcome produced p99 {summary['to_outcome']['p99_ms']:.1f}, then to visible p99 "
            f"{summary['outcome_to_visible']['p99_ms']:.1f})"
        )
        self.say(f"  its transactions after the first {STEADY_AFTER:.0f} s: {describe_trace(summary['transactions'])}")
        summary["floor"] = self._latency_floor(rate)
        return summary

    def _latency_floor(self, rate: int, clock: Callable[[str], None] = lambda event: None) -> dict[str, Any]:
        """Record -> visible through a transactional pass-through (no routing) at ``rate``: Kafka's part and the
        measurement's. ``clock`` is told ``"start"`` and ``"stop"`` around the timed stream (a :class:`CpuWindow`)."""
        settings = self._namespace(f"floor{rate}", partitions=3)
        command = [
            sys.executable, "-m", "labelstream.bench.passthrough", "transactional",
            "--bootstrap", settings.kafka.bootstrap_servers, "--source", settings.topics.records,
            "--sink", settings.topics.labels, "--count", "0",
            "--batch-size", str(settings.labeler.batch_size), "--wait-ms", str(settings.labeler.batch_max_wait_ms),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - our own module
        try:
            time.sleep(4)  # init_transactions, join the group
            latencies, _parts, since_start = measure_latency(settings, rate, self.config.latency_seconds, clock)
        finally:
            proc.terminate()
            proc.wait(30)
        summary = percentiles(latencies)
        summary["steady"] = steady(latencies, since_start)
        self.say(f"floor (transactional pass-through) at {rate}/s: p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms")
        return summary

    # -- 5: correction -> model live -----------------------------------------------------------

    def _model_update_latency(self) -> dict[str, Any]:
        settings = self._namespace("update", partitions=3)
        labeler = service(settings, "labeler", self.config.log_dir, instance="0").start()
        learner = service(settings, "learner", self.config.log_dir).start()
        try:
            labeler.wait_until_serving()
            learner.wait_until_serving()
            latencies = measure_update_latency(settings, self.config.corrections)
        finally:
            labeler.stop()
            learner.stop()
        summary = percentiles(latencies)
        self.say(f"correction -> model live: p50 {summary['p50_ms']:.0f} ms, p95 {summary['p95_ms']:.0f} ms")
        return summary

    # -- 6: one vs two labelers ----------------------------------------------------------------

    def _scaling(self) -> dict[str, Any]:
        """One labeler, then two, on a 2-partition topic each, produced once the group holds its partitions (a labeler
        that joins first would otherwise work through the other's partition while the group rebalances: measured,
        one labeler committed 4,000 records of the other's partition before the second one had any).

        ``scaling_rounds`` pairs, interleaved (one, two; two, one; ...) so that a drift in the machine's load weighs on
        both sides alike; the ratio is the median of the ratios within a pair (:func:`scaling_summary`).

        Each run is timed from when every partition has 20 % of its records committed to when one has 90 %
        (:func:`wait_committed`'s ``each_partition``): a window on the sum of the offsets let one labeler's
        start-up or tail, while the other worked alone, count as two labelers' time (one run of four at 18:23 on
        2026-12-02 had a labeler 38k records behind the other: 2.3 s of both at work instead of ~5).
        """
        records = made_records(self.config.scale_records)
        steady = (0.2, 0.9)
        began = time.monotonic()
        pairs: list[dict[str, dict[str, Any]]] = []
        for pair in range(1, self.config.scaling_rounds + 1):
            runs: dict[str, dict[str, Any]] = {}
            for instances in scaling_order(pair):
                name = "one" if instances == 1 else "two"
                result = self._labeler_throughput(
                    self._namespace(f"scale{instances}-{pair}", partitions=2), instances=instances, total=len(records),
                    window=steady, records=records,
                )
                runs[name] = result.as_dict()
                self.say(f"  scaling pair {pair}, {instances} labeler(s): {result.records_per_second:,.0f}/s, "
                         f"{result.cpu_us_per_record or 0:.1f} us CPU a record")
            pairs.append(runs)
        summary = scaling_summary(pairs)
        summary["seconds"] = round(time.monotonic() - began, 1)
        self.say(f"1 labeler: {summary['one']['records_per_second']:,.0f}/s, 2 labelers: "
                 f"{summary['two']['records_per_second']:,.0f}/s (medians); ratio {summary['ratio']:.2f} x, the median of "
                 + ", ".join(f"{p['ratio']:.2f}" for p in summary["pairs"]) + f" ({summary['seconds']:.0f} s)")
        return summary


# -- helpers (module level: each does one measurement) ---------------------------------------


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def registry_for(settings: Settings) -> ModelRegistry:
    return ModelRegistry.from_settings(connect(settings.redis), settings)


def produce_records(settings: Settings, topic: str, n: int, seed: int = 1) -> None:
    producer = Producer(producer_config(settings.kafka))
    for payload, _label in synthetic_records(n, seed=seed):
        value = orjson.dumps(payload)
        while True:
            try:
                producer.produce(topic, key=payload["id"].encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def made_records(n: int, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """``n`` records of the workload as (key, value), encoded ahead (drawing them costs ~15 us a record)."""
    return [(payload["id"].encode(), orjson.dumps(payload)) for payload, _label in synthetic_records(n, seed=seed)]


def produce_made(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    """Produce encoded records as fast as the client takes them."""
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 5}))
    produce, topic = producer.produce, settings.topics.records
    for key, value in records:
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_cpu_seconds() -> float | None:
    """CPU seconds of the local Kafka broker(s) ``deploy/stack.sh`` started (their pid files), or ``None``."""
    stack = Path(os.environ.get("LABELSTREAM_STACK_DIR", ".stack"))
    total, found = 0.0, False
    # Not "kafka*/**": that walks the brokers' log directories, which they delete under it (FileNotFoundError
    # from the walk: a CpuWindow test failed so after the fault suite). One node: kafka/; a cluster: kafka/nodeN/.
    for pidfile in [*stack.glob("kafka*/kafka.pid"), *stack.glob("kafka*/node*/kafka.pid")]:
        try:
            total += cpu_seconds(int(pidfile.read_text().strip()))
            found = True
        except (OSError, ValueError):
            continue
    return total if found else None


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) memory of a process in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def routing_shares(metrics_texts: list[str]) -> dict[str, float]:
    """Share of records by outcome from ``labelstream_record_outcomes_total`` and the dead letters."""
    counts: dict[str, float] = {}
    for text in metrics_texts:
        for line in text.splitlines():
            if line.startswith("labelstream_record_outcomes_total{"):
                outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
                counts[outcome] = counts.get(outcome, 0.0) + float(line.rsplit(" ", 1)[1])
            elif line.startswith("labelstream_records_invalid_total{"):
                counts["dead_letter"] = counts.get("dead_letter", 0.0) + float(line.rsplit(" ", 1)[1])
    total = sum(counts.values())
    return {k: round(v / total, 4) for k, v in sorted(counts.items()) if v} if total else {}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median records/s (its other figures with it), and every round's records/s."""
    ordered = sorted(runs, key=lambda r: r["records_per_second"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rounds_records_per_second"] = [r["records_per_second"] for r in runs]
    chosen["cpu_us_per_record"] = statistics.median(r["cpu_us_per_record"] for r in runs if r["cpu_us_per_record"] is not None)
    return chosen


def scaling_order(pair: int) -> tuple[int, int]:
    """Labelers of each run of the ``pair``-th (from 1) scaling pair: one, two; then two, one; and so on."""
    return (1, 2) if pair % 2 else (2, 1)


def scaling_summary(pairs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The scaling pairs (each ``{"one": run, "two": run}``) summed up: ``ratio`` the median of the within-pair
    ratios of records/s, ``one`` and ``two`` the median runs (:func:`median_run`), ``pairs`` every run and its ratio."""
    ones, twos = [p["one"] for p in pairs], [p["two"] for p in pairs]
    return {
        "one": median_run(ones),
        "two": median_run(twos),
        "ratio": median_ratio(twos, ones),
        "pairs": [{"one": p["one"], "two": p["two"],
                   "ratio": round(p["two"]["records_per_second"] / p["one"]["records_per_second"], 3),
                   "order": "one, two" if scaling_order(i) == (1, 2) else "two, one"}
                  for i, p in enumerate(pairs, start=1)],
    }


def median_ratio(numerators: list[dict[str, Any]], denominators: list[dict[str, Any]]) -> float:
    """Median over rounds of the ratio of records/s measured in the same round."""
    return round(statistics.median(
        n["records_per_second"] / d["records_per_second"] for n, d in zip(numerators, denominators, strict=True)
    ), 3)


class CpuWindow:
    """CPU of named processes, of the local broker and of the whole machine between ``clock("start")`` and
    ``clock("stop")``, in cores (:attr:`cores`): who had the 2 CPUs while the latency was measured."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.cores: dict[str, float | None] = {}
        self._start: tuple[float, dict[str, float], float | None, tuple[int, int]] | None = None

    def _sample(self) -> tuple[float, dict[str, float], float | None, tuple[int, int]]:
        return time.perf_counter(), {name: cpu_seconds(pid) for name, pid in self.pids.items()}, broker_cpu_seconds(), machine_cpu_times()

    def clock(self, event: str) -> None:
        try:
            sample = self._sample()
        except OSError:  # a process ended: no figure rather than a wrong one
            return
        if event == "start":
            self._start = sample
            return
        if self._start is None:
            return
        (t0, cpu0, broker0, machine0), (t1, cpu1, broker1, _machine1) = self._start, sample
        seconds = max(t1 - t0, 1e-9)
        self.cores = {name: round((cpu1[name] - cpu0[name]) / seconds, 3) for name in self.pids}
        self.cores["broker"] = None if broker0 is None or broker1 is None else round((broker1 - broker0) / seconds, 3)
        self.cores["machine"] = round(machine_busy_since(machine0) * (os.cpu_count() or 1), 3)


def machine_cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def machine_busy_since(start: tuple[int, int]) -> float:
    busy, total = machine_cpu_times()
    return (busy - start[0]) / max(total - start[1], 1)


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


class CpuClocks:
    """CPU clocks read at the start of a measured window (:func:`wait_committed`): of the measured processes, of the
    broker, of the benchmark's own process and of the machine; :meth:`result` reads them again."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started = time.perf_counter()
        self.cpu = [cpu_seconds(pid) for pid in pids]
        self.waits = [cpu_wait_seconds(pid) for pid in pids]
        self.broker = broker_cpu_seconds()
        self.bench = cpu_seconds(os.getpid())
        self.machine = machine_cpu_times()
        self.pressure = cpu_pressure_seconds()

    def result(self, records: int) -> ThroughputResult:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        cpu = [cpu_seconds(pid) - before for pid, before in zip(self.pids, self.cpu, strict=True)]
        waits = [cpu_wait_seconds(pid) - before for pid, before in zip(self.pids, self.waits, strict=True)]
        broker, pressure = broker_cpu_seconds(), cpu_pressure_seconds()
        return ThroughputResult(
            records, seconds, sum(cpu), machine_busy_since(self.machine),
            cpu_shares=[c / seconds for c in cpu],
            cpu_wait_shares=[w / seconds for w in waits],
            broker_cpu_share=None if broker is None or self.broker is None else (broker - self.broker) / seconds,
            bench_cpu_share=(cpu_seconds(os.getpid()) - self.bench) / seconds,
            cpu_pressure=None if pressure is None or self.pressure is None else min(1.0, (pressure - self.pressure) / seconds),
        )


def cpu_wait_seconds(pid: int) -> float:
    """Seconds the threads of a process were runnable but waiting for a CPU, summed over its threads (the
    scheduler's run delay, /proc/<pid>/task/*/schedstat); a thread that ended takes its share with it."""
    waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waited / 1e9


def cpu_pressure_seconds() -> float | None:
    """Seconds in which at least one task of the machine was runnable but waiting for a CPU (the kernel's pressure
    stall information, /proc/pressure/cpu "some"), or ``None`` where the kernel does not give it."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(some.rsplit("total=", 1)[1]) / 1e6


def measure_latency(
    settings: Settings, rate: int, seconds: float, clock: Callable[[str], None] = lambda event: None,
) -> tuple[list[float], tuple[list[float], list[float]], list[float]]:
    """Produce at ``rate`` for ``seconds``; latency of each record until its outcome is visible (read_committed),
    its two parts: until the outcome was produced (its message timestamp), then until visible; and when each
    was produced (seconds since the first). ``clock`` is told ``"start"`` and ``"stop"`` around the timed stream."""
    sys.setswitchinterval(0.0005)  # the producer and the measuring consumer share this process
    sent: dict[str, float] = {}
    latencies: list[float] = []
    to_outcome: list[float] = []
    to_visible: list[float] = []
    since_start: list[float] = []
    stop = threading.Event()
    consumer = Consumer(consumer_config(settings.kafka, f"latency-{uuid.uuid4().hex[:6]}", **{"fetch.wait.max.ms": READER_FETCH_WAIT_MS}))
    outputs = [settings.topics.labels, settings.topics.review, settings.topics.deferred]
    assignment = []
    for topic in outputs:
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            assignment.append(TopicPartition(topic, p, OFFSET_BEGINNING))
    consumer.assign(assignment)

    def consume() -> None:
        while not stop.is_set() or len(latencies) < len(sent):
            for msg in available(consumer, 0.05):
                if msg.error() is None:
                    received = time.time()
                    produced_at = sent.get(msg.key().decode())
                    if produced_at is not None:
                        latencies.append(received - produced_at)
                        since_start.append(produced_at - first_sent)
                        kind, outcome_ms = msg.timestamp()
                        if kind:  # the outcome's create time (ms): when the labeler produced it
                            to_outcome.append(max(0.0, outcome_ms / 1000 - produced_at))
                            to_visible.append(max(0.0, received - outcome_ms / 1000))
            if stop.is_set() and time.time() > stop_time + 10:
                return

    stop_time = float("inf")
    first_sent = time.time()  # reset when the first record is sent
    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": PRODUCER_LINGER_MS}))
    warm_up(producer, settings)
    # Made before the clock starts: drawing 20 features costs ~15 us a record, 15 % of a core at 10k/s that
    # the labeler would not get (2 CPUs). In the timed loop, only the timestamp is spliced in.
    made = [
        (payload["id"], payload["id"].encode(), orjson.dumps(payload)[1:])
        for payload, _label in synthetic_records(int(rate * seconds), seed=7, prefix=f"l{rate}-")
    ]
    interval = 1.0 / rate
    clock("start")
    start = time.perf_counter()
    first_sent = time.time()
    for i, (record_id, key, rest) in enumerate(made):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:  # never early; at most one wake-up a PACE_SECONDS (a record a wake-up at 10k/s costs the machine)
            time.sleep(max(delay, PACE_SECONDS))
        now = time.time()
        sent[record_id] = now
        producer.produce(settings.topics.records, key=key, value=b'{"timestamp":' + orjson.dumps(now) + b"," + rest)
        producer.poll(0)
    producer.flush(30)
    clock("stop")
    stop_time = time.time()
    stop.set()
    reader.join(30)
    consumer.close()
    return latencies, (to_outcome, to_visible), since_start


def available(consumer: Consumer, wait: float) -> list:
    """What is queued, or the first message within ``wait`` and what came with it (never the whole wait
    when one message is there, which ``consume(n, timeout)`` does until it has n)."""
    messages = consumer.consume(1000, 0)
    if messages:
        return messages
    first = consumer.poll(wait)
    return [] if first is None else [first, *consumer.consume(999, 0)]


def warm_up(producer: Producer, settings: Settings) -> None:
    """Deliver one record first: an idempotent producer holds its first messages until it has its
    producer id (~0.5 s here), which would otherwise count as the labeler's latency."""
    payload, _label = next(synthetic_records(1, seed=5, prefix="warmup-"))
    producer.produce(settings.topics.records, key=payload["id"].encode(), value=orjson.dumps(payload))
    producer.flush(30)


def measure_update_latency(settings: Settings, corrections: int, rate: int = 1000) -> list[float]:
    """Send corrections one at a time under a 1k/s stream; time until outcomes carry a newer model version."""
    stop = threading.Event()

    def stream() -> None:
        producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
        for i, (payload, _label) in enumerate(synthetic_records(10**9, seed=11, prefix="u")):
            if stop.is_set():
                break
            producer.produce(settings.topics.records, key=payload["id"].encode(), value=orjson.dumps(payload))
            producer.poll(0)
            if i % 10 == 9:
                time.sleep(10 / rate)
        producer.flush(10)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    follower = Consumer(consumer_config(settings.kafka, f"update-{uuid.uuid4().hex[:6]}", **{"fetch.wait.max.ms": 1}))
    outputs = [settings.topics.labels, settings.topics.review, settings.topics.deferred]
    follower.subscribe(outputs)
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
    latencies = []
    stored_ids: list[str] = []
    version = 0
    try:
        deadline = time.monotonic() + 30
        while not stored_ids and time.monotonic() < deadline:  # records whose features the labeler stored
            for msg in follower.consume(1000, 0.1):
                if msg.error() is None and msg.topic() != settings.topics.labels:
                    stored_ids.append(msg.key().decode())
                if msg.error() is None:
                    version = max(version, orjson.loads(msg.value()).get("model_version") or 0)
        for i in range(corrections):
            record_id = stored_ids[i % len(stored_ids)] if stored_ids else None
            if record_id is None:
                break
            sent_at = time.time()
            correction = {"id": record_id, "label": "pos", "reviewer": "bench", "timestamp": sent_at}
            producer.produce(settings.topics.corrections, key=record_id.encode(), value=orjson.dumps(correction))
            producer.flush(5)
            live = wait_for_version(follower, version + 1, settings, stored_ids)
            if live is None:
                continue
            version, live_at = live
            latencies.append(live_at - sent_at)
            time.sleep(1.0)
    finally:
        stop.set()
        streamer.join(10)
        follower.close()
    return latencies


def wait_for_version(follower: Consumer, at_least: int, settings: Settings, stored_ids: list[str], timeout: float = 15) -> tuple[int, float] | None:
    """The first outcome carrying model version >= ``at_least``: (version, its labeler timestamp)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in follower.consume(1000, 0.05):
            if msg.error() is not None:
                continue
            value = orjson.loads(msg.value())
            if msg.topic() != settings.topics.labels:
                stored_ids.append(value["id"])
            version = value.get("model_version") or 0
            if version >= at_least:
                return version, value["timestamp"]
    return None


PACE_SECONDS = 0.001
"""The latency runs' producer sleeps at least this long when ahead of schedule, then sends what has come due
(records are sent on time or up to this late, each stamped when sent). A sleep a record at 10k/s cost the bench
process 0.6 cores and the broker 0.7 (10k tiny produce requests a second) of the machine's 2, measured with no
labeler running; the labeler was left ~0.4 cores, about what 10k/s needs (a probe of the producer and reader alone, 2026-12-01)."""

PRODUCER_LINGER_MS = 1
"""The latency runs' producer batches what it sends within 1 ms (counted in the latency: each record is stamped
before it is handed to the client). With 0, each wake-up's records went out in requests of their own; 1 ms: p99 at
10k/s 141 / 125 ms vs 200 / 192 (interleaved pairs, 2026-12-01 22:00), the broker 0.61 vs 0.68 cores."""

READER_FETCH_WAIT_MS = 20
"""How long the broker may hold the measuring reader's fetch when nothing new is visible. A read_committed fetch is
answered as soon as a commit makes outcomes visible, so this bounds idle polling only: at 1 ms the reader asked the
broker ~1,000 times a second for nothing between commits. 20 ms: p99 at 1k/s 63 / 49 ms vs 92 / 59, at 10k/s 149 vs
222 / 266, the broker 0.1 core less (interleaved pairs, 2026-12-01 22:16-22:22)."""

STEADY_AFTER = 2.0
"""Seconds from the start of a latency run after which records count as steady state."""


def steady(latencies: list[float], since_start: list[float]) -> dict[str, Any]:
    """Percentiles of the records produced after the first :data:`STEADY_AFTER` seconds (start-up left out)."""
    return percentiles([latency for latency, at in zip(latencies, since_start, strict=True) if at >= STEADY_AFTER])


def percentiles(latencies: list[float]) -> dict[str, Any]:
    if not latencies:
        return {"n": 0, "p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(at(0.95), 2),
        "p99_ms": round(at(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }
