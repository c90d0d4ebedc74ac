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
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelstream.bench.committed import wait_committed, wait_group_stable
from labelstream.bench.cpu import CpuWindow
from labelstream.bench.feed import made_records, produce_made, produce_records
from labelstream.bench.latency import STEADY_AFTER, measure_latency, measure_update_latency, percentiles, steady
from labelstream.bench.peer import peer_sink_topics, start_peer
from labelstream.bench.results import (
    ThroughputResult,
    median_ratio,
    median_run,
    routing_shares,
    scaling_order,
    scaling_summary,
)
from labelstream.bench.workload import BENCH_NOISE, warm_state
from labelstream.kafka.topics import admin_client, create_topics
from labelstream.labeler.trace import describe as describe_trace
from labelstream.labeler.trace import summarize as summarize_trace
from labelstream.processes import service
from labelstream.settings import Settings, namespaced
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

Say = Callable[[str], None]


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


# -- helpers ---------------------------------------------------------------------------------


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
