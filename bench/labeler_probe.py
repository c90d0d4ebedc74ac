#!/usr/bin/env python3
"""Probe a labeler process on the local stack: where its CPU goes at full speed, and A/B its latency settings.

    # full speed: N records produced first, then one labeler; records/s, CPU a record, CPU by thread
    # (Python vs librdkafka's own threads) and, with --profile, py-spy's samples of the thread holding
    # the GIL summed by function (py-spy must be installed in the venv: pip install py-spy)
    .venv/bin/python bench/labeler_probe.py max-rate --records 300000 --profile .stack/probe-max.txt

    # latency at an offered rate, settings interleaved round by round (floor = the transactional pass-through)
    .venv/bin/python bench/labeler_probe.py latency --rate 1000 --seconds 15 --rounds 3 \\
        base: gap10:min_transaction_gap_ms=10 floor:

Each variant is ``name:setting=value,...`` with ``labeler.*`` settings (integers); the measurement is the one
of ``labelstream bench throughput`` (:func:`labelstream.bench.latency.measure_latency`, the labeler's
``trace_file``). Run it on a quiet machine (no other jobs; where several share one, take turns with ``flock``): the
figures are the machine's too.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from labelstream.bench.committed import wait_committed
from labelstream.bench.cpu import CpuWindow
from labelstream.bench.feed import produce_records
from labelstream.bench.latency import STEADY_AFTER, measure_latency, percentiles, steady
from labelstream.bench.throughput import BenchConfig, ThroughputBench
from labelstream.labeler.trace import describe, summarize
from labelstream.processes import service
from labelstream.settings import Settings

LOGS = Path(".stack") / "probe"
# Frames every sample of a thread has (entry points, thread pools): left out of the summary.
WRAPPERS = re.compile(r"\((typer|threading|concurrent|<frozen runpy>|labelstream/cli|labelstream/__main__)")


def thread_cpu(pid: int) -> dict[str, tuple[str, float]]:
    """CPU seconds of each thread of ``pid`` (thread id -> (name, seconds)), from /proc."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        threads[task.name] = (name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return threads


def by_function(raw: Path, top: int = 40) -> list[tuple[float, str]]:
    """Share of py-spy's samples (raw format) in which each function is on the stack."""
    total, inclusive = 0, collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        seen = {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";") if not WRAPPERS.search(frame)}
        for frame in seen:
            inclusive[frame] += int(count)
    return [(n / total, frame) for frame, n in inclusive.most_common(top)] if total else []


def max_rate(records: int, profile: Path | None, seconds: int) -> None:
    bench = ThroughputBench(Settings(), BenchConfig(records=records, repeat=1))
    try:
        settings = bench._namespace("probe", partitions=3)
        produce_records(settings, settings.topics.records, records)
        group = f"probe-{uuid.uuid4().hex[:4]}"
        settings = settings.model_copy(
            update={"labeler": settings.labeler.model_copy(update={"group_id": group, "transactional_id": group})}
        )
        proc = service(settings, "labeler", LOGS, instance="0").start()
        proc.wait_until_serving()
        spy = None
        if profile is not None:
            time.sleep(2)
            spy = subprocess.Popen(  # noqa: S603 - py-spy from this venv
                [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking", "--gil", "-r", "200",
                 "-d", str(seconds), "-f", "raw", "-o", str(profile), "--pid", str(proc.process.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        samples: list[tuple[float, dict]] = []

        def sample_threads() -> None:
            time.sleep(3)
            for _ in range(2):
                samples.append((time.perf_counter(), thread_cpu(proc.process.pid)))
                time.sleep(4)

        sampler = threading.Thread(target=sample_threads, daemon=True)
        sampler.start()
        result = wait_committed(settings, group, records, [proc], (0.1, 0.9))
        sampler.join()
        if spy is not None:
            spy.wait()
        proc.stop()
        print(f"labeler: {result.records_per_second:,.0f} records/s, {result.cpu_us_per_record:.1f} us CPU a record, "
              f"{result.cpu_shares[0]:.2f} cores; broker {result.broker_cpu_share:.2f} cores; machine {result.machine_busy:.0%} busy")
        if len(samples) == 2:
            (t0, before), (t1, after) = samples
            cores = collections.Counter()
            for tid, (name, cpu) in after.items():
                cores[name] += (cpu - before.get(tid, (name, 0.0))[1]) / (t1 - t0)
            print("CPU by thread name, in cores (python: every Python thread; rdk:*: librdkafka's own): "
                  + ", ".join(f"{name} {x:.2f}" for name, x in cores.most_common()))
        if profile is not None and profile.exists():
            print("py-spy, thread holding the GIL, share of samples with the function on the stack:")
            for share, frame in by_function(profile):
                print(f"  {share:6.1%}  {frame}")
    finally:
        bench._clean_up()


def latency(rate: int, seconds: float, rounds: int, variants: list[str]) -> None:
    bench = ThroughputBench(Settings(), BenchConfig(latency_seconds=seconds))
    parsed = []
    for variant in variants:
        name, _, pairs = variant.partition(":")
        parsed.append((name, {k: int(v) for k, v in (p.split("=", 1) for p in pairs.split(",") if p)}))
    try:
        for round_ in range(rounds):
            for name, update in parsed:
                if name == "floor":
                    cpu = CpuWindow({"bench": os.getpid()})
                    summary = bench._latency_floor(rate, cpu.clock)
                    print(f"{time.strftime('%H:%M:%S')} {rate}/s {name:8s} p50 {summary['p50_ms']:6.1f} p99 "
                          f"{summary['p99_ms']:6.1f} steady p99 {summary['steady']['p99_ms']:6.1f} | "
                          f"cores {cpu.cores} | load {os.getloadavg()[0]:.1f}", flush=True)
                    continue
                settings = bench._namespace(f"probe{round_}{name}", partitions=3)
                trace = (LOGS / f"trace-{round_}-{name}.jsonl").absolute()
                trace.parent.mkdir(parents=True, exist_ok=True)
                settings = settings.model_copy(
                    update={"labeler": settings.labeler.model_copy(update={**update, "trace_file": str(trace)})}
                )
                proc = service(settings, "labeler", LOGS, instance="0").start()
                try:
                    proc.wait_until_serving()
                    time.sleep(2)
                    began = time.time()
                    cpu = CpuWindow({"labeler": proc.process.pid, "bench": os.getpid()})
                    latencies, parts, since = measure_latency(settings, rate, seconds, cpu.clock)
                finally:
                    proc.stop()
                p, s = percentiles(latencies), steady(latencies, since)
                print(f"{time.strftime('%H:%M:%S')} {rate}/s {name:8s} p50 {p['p50_ms']:6.1f} p99 {p['p99_ms']:6.1f} "
                      f"steady p99 {s['p99_ms']:6.1f} | to the outcome p99 {percentiles(parts[0])['p99_ms']:.1f} | "
                      f"cores {cpu.cores} | load {os.getloadavg()[0]:.1f}", flush=True)
                print("    " + describe(summarize(trace, settings.labeler.batch_size, since=began + STEADY_AFTER)), flush=True)
    finally:
        bench._clean_up()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fast = commands.add_parser("max-rate", help="one labeler on pre-produced records")
    fast.add_argument("--records", type=int, default=300_000)
    fast.add_argument("--profile", type=Path, help="py-spy raw output file (the profile is summed by function)")
    fast.add_argument("--seconds", type=int, default=8, help="how long py-spy samples")
    lat = commands.add_parser("latency", help="variants interleaved at an offered rate")
    lat.add_argument("--rate", type=int, default=1000)
    lat.add_argument("--seconds", type=float, default=15.0)
    lat.add_argument("--rounds", type=int, default=2)
    lat.add_argument("variants", nargs="+", help="name:setting=value,... (labeler settings); 'floor:' the pass-through")
    args = parser.parse_args()
    if args.command == "max-rate":
        max_rate(args.records, args.profile, args.seconds)
    else:
        latency(args.rate, args.seconds, args.rounds, args.variants)


if __name__ == "__main__":
    main()
