#!/usr/bin/env python3
"""Probe the scaling runs: each labeler's committed offsets and every process's CPU over time.

    # one then two labelers on a 2-partition topic, records produced once the group is stable (as the benchmark)
    .venv/bin/python bench/scaling_probe.py --instances 1 2 --records 200000

    # the records produced before the labelers start (no producer during the run), a labeler setting changed
    .venv/bin/python bench/scaling_probe.py --instances 2 --preload --set commit_interval_ms=200

Every ``--every`` seconds a sampler thread reads the group's committed offset of each partition (one labeler a
partition with two labelers) and the CPU seconds of each labeler, of the broker, of this process and of the machine
(/proc). It prints the timeline in slices and, for each partition, when its committed share crossed 20 %, 90 % and
100 %: whether the labelers start and end together, and who had the CPUs meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from labelstream.bench.committed import wait_group_stable
from labelstream.bench.cpu import broker_cpu_seconds, cpu_seconds, machine_cpu_times
from labelstream.bench.feed import made_records, produce_made
from labelstream.bench.throughput import BenchConfig, ThroughputBench
from labelstream.kafka.config import consumer_config
from labelstream.processes import service
from labelstream.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labeler_probe import thread_cpu as labeler_probe_thread_cpu  # noqa: E402 - a sibling script

LOGS = Path(".stack") / "probe"


def schedstat(pid: int) -> tuple[float, float]:
    """(on CPU, runnable but waiting for a CPU) seconds of all threads of ``pid``, from /proc/<pid>/task/*/schedstat."""
    running = waiting = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except OSError:
            continue
        running += int(fields[0])
        waiting += int(fields[1])
    return running / 1e9, waiting / 1e9


class StateSampler(threading.Thread):
    """Every ``every`` s, the scheduler state of each labeler's threads (/proc/<pid>/task/*/stat): the share of samples
    in which its main thread, any of its Python threads, any thread at all was running or runnable (R), and none was
    (the labeler idle: waiting for the broker, Redis or nothing)."""

    def __init__(self, pids: list[int], every: float) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.counts = [{"samples": 0, "main": 0, "python": 0, "any": 0} for _ in pids]
        self.on = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            if self.on.is_set():
                for pid, counts in zip(self.pids, self.counts, strict=True):
                    states = []
                    for task in Path(f"/proc/{pid}/task").iterdir():
                        try:
                            text = (task / "stat").read_text()
                        except OSError:
                            continue
                        name = text[text.index("(") + 1:text.rindex(")")]
                        states.append((task.name == str(pid), not name.startswith("rdk:"), text[text.rindex(")") + 2] == "R"))
                    counts["samples"] += 1
                    counts["main"] += any(main and running for main, _py, running in states)
                    counts["python"] += any(py and running for _main, py, running in states)
                    counts["any"] += any(running for _main, _py, running in states)
            time.sleep(self.every)

    def shares(self) -> list[dict[str, float]]:
        return [{key: round(c[key] / max(c["samples"], 1), 2) for key in ("main", "python", "any")} for c in self.counts]


def sample(watcher: Consumer, partitions: list[TopicPartition], pids: list[int]) -> dict:
    committed = [max(tp.offset, 0) for tp in watcher.committed(partitions, timeout=10)]
    busy, total = machine_cpu_times()
    return {
        "t": time.perf_counter(), "wall": time.time(), "committed": committed, "labelers": [cpu_seconds(pid) for pid in pids],
        "sched": [schedstat(pid) for pid in pids],
        "broker": broker_cpu_seconds() or 0.0, "bench": cpu_seconds(os.getpid()), "machine": (busy, total),
    }


def run(bench: ThroughputBench, instances: int, records: list, preload: bool, update: dict, every: float, tag: str,
        states_every: float | None) -> dict:
    settings = bench._namespace(f"sp{instances}{tag}", partitions=2)
    group = f"{settings.labeler.group_id}-x{instances}-{uuid.uuid4().hex[:4]}"
    settings = settings.model_copy(
        update={"labeler": settings.labeler.model_copy(update={"group_id": group, "transactional_id": group, **update})}
    )
    if preload:
        produce_made(settings, records)
    traces = [(LOGS / f"trace-{group}-{i}.jsonl").absolute() for i in range(instances)]
    LOGS.mkdir(parents=True, exist_ok=True)
    procs = [
        service(settings.model_copy(update={"labeler": settings.labeler.model_copy(update={"trace_file": str(trace)})}),
                "labeler", LOGS, instance=str(i)).start()
        for i, trace in enumerate(traces)
    ]
    watcher = Consumer(consumer_config(settings.kafka, group))
    topic = settings.topics.records
    partitions = [TopicPartition(topic, p) for p in sorted(watcher.list_topics(topic, timeout=10).topics[topic].partitions)]
    samples: list[dict] = []
    marks: dict[str, float] = {}
    done = threading.Event()

    states = StateSampler([p.process.pid for p in procs], states_every or 0.01)

    def sampler() -> None:
        while not done.is_set():
            try:
                samples.append(sample(watcher, partitions, [p.process.pid for p in procs]))
            except OSError:
                return
            share = sum(samples[-1]["committed"]) / len(records)
            if share >= 0.9:
                states.on.clear()
            elif share >= 0.2:
                states.on.set()
            if sum(samples[-1]["committed"]) >= len(records):
                done.set()
                return
            time.sleep(every)

    try:
        for proc in procs:
            proc.wait_until_serving()
        marks["serving"] = time.perf_counter()
        if not preload:
            wait_group_stable(settings, group, instances)
            marks["stable"] = time.perf_counter()
        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        if states_every:
            states.start()
        if not preload:
            marks["produce_start"] = time.perf_counter()
            produce_made(settings, records)
            marks["produce_end"] = time.perf_counter()
        thread.join(600)
        states.done.set()
        threads = [thread_cpu(p.process.pid) for p in procs]
    finally:
        done.set()
        for proc in procs:
            proc.stop()
        watcher.close()
    ends = [tp.offset for tp in _ends(settings, partitions)]
    for proc in procs:  # the labelers' own account: assignments, slow transactions, retries
        lines = [line for line in proc.log_tail(200).splitlines()
                 if any(word in line for word in ("assigned", "revoked", "slow transaction", "WARNING", "retry"))]
        print(f"   {proc.name}: " + " | ".join(line[11:23] + line.split(":", 3)[-1] for line in lines[-8:]))
    print("   marks (wall): " + ", ".join(f"{k} {time.strftime('%H:%M:%S', time.localtime(time.time() - time.perf_counter() + v))}"
                                        f".{int((time.time() - time.perf_counter() + v) % 1 * 1000):03d}" for k, v in marks.items()))
    return {"instances": instances, "preload": preload, "update": update, "samples": samples, "marks": marks, "ends": ends,
            "traces": traces, "threads": threads, "states": states.shares()}


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's threads summed by thread name (labeler_probe's reading of /proc)."""
    cores: dict[str, float] = {}
    for name, seconds in labeler_probe_thread_cpu(pid).values():
        cores[name] = cores.get(name, 0.0) + seconds
    return cores


def trace_summary(path: Path, since: float, until: float) -> str:
    """The labeler's transactions that began within (since, until) (epoch s): their phases summed, as shares of the span."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if since <= r["at"] <= until]
    if not rows:
        return "no transactions"
    span = until - since
    sums: dict[str, float] = {}
    for row in rows:
        for phase, ms in row["ms"].items():
            sums[phase] = sums.get(phase, 0.0) + ms / 1000
    records = sorted(r["records"] for r in rows)
    chunks = sorted(n for r in rows for n, _ms in r["chunks"])
    return (f"{len(rows)} transactions, records p50 {records[len(records) // 2]}, chunks p50 {chunks[len(chunks) // 2] if chunks else 0} "
            f"(n {len(chunks)}), ahead share {sum(r['ahead'] for r in rows) / max(sum(records), 1):.0%}; "
            + ", ".join(f"{phase} {seconds / span:.0%}" for phase, seconds in sums.items())
            + f" of {span:.2f} s")


def _ends(settings: Settings, partitions: list[TopicPartition]) -> list[TopicPartition]:
    consumer = Consumer(consumer_config(settings.kafka, f"ends-{uuid.uuid4().hex[:4]}"))
    try:
        return [TopicPartition(tp.topic, tp.partition, consumer.get_watermark_offsets(tp, timeout=10)[1]) for tp in partitions]
    finally:
        consumer.close()


def crossing(samples: list[dict], value: callable, level: float) -> dict | None:
    """The first sample at which ``value(sample) >= level``."""
    return next((s for s in samples if value(s) >= level), None)


def window(samples: list[dict], first: dict, last: dict, instances: int) -> dict:
    seconds = last["t"] - first["t"]
    busy = (last["machine"][0] - first["machine"][0]) / max(last["machine"][1] - first["machine"][1], 1)
    return {
        "seconds": round(seconds, 3),
        "records_per_second": round((sum(last["committed"]) - sum(first["committed"])) / seconds) if seconds else None,
        "labeler_cores": [round((b - a) / seconds, 2) for a, b in zip(first["labelers"], last["labelers"], strict=True)],
        "broker_cores": round((last["broker"] - first["broker"]) / seconds, 2),
        "bench_cores": round((last["bench"] - first["bench"]) / seconds, 2),
        "machine_cores": round(busy * (os.cpu_count() or 1), 2),
        # of the labelers' threads, summed: seconds a second on a CPU, and runnable but waiting for one
        "labeler_running": [round((b[0] - a[0]) / seconds, 2) for a, b in zip(first["sched"], last["sched"], strict=True)],
        "labeler_waiting_cpu": [round((b[1] - a[1]) / seconds, 2) for a, b in zip(first["sched"], last["sched"], strict=True)],
    }


def report(result: dict, slice_seconds: float) -> dict:
    samples, ends, marks = result["samples"], result["ends"], result["marks"]
    total = sum(ends)
    t0 = samples[0]["t"]
    print(f"== {result['instances']} labeler(s), preload={result['preload']}, {result['update'] or 'defaults'}; "
          f"partitions {ends} ({ends[0] / total:.1%} / {ends[1] / total:.1%})")
    for name, at in marks.items():
        print(f"   {name}: {at - t0:+.2f} s")
    for p, end in enumerate(ends):
        times = []
        for level in (0.01, 0.2, 0.9, 1.0):
            s = crossing(samples, lambda s, p=p: s["committed"][p], level * end)
            times.append("-" if s is None else f"{s['t'] - t0:.2f}")
        print(f"   partition {p}: committed 1 %, 20 %, 90 %, 100 % at " + ", ".join(times) + " s")
    first = crossing(samples, lambda s: sum(s["committed"]), 0.2 * total)
    last = crossing(samples, lambda s: sum(s["committed"]), 0.9 * total)
    measured = window(samples, first, last, result["instances"])
    print(f"   benchmark window (20-90 % of all): {first['t'] - t0:.2f} -> {last['t'] - t0:.2f} s: {measured}")
    if result["states"][0]["main"] or result["states"][0]["any"]:
        print("   running or runnable (share of samples in 20-90 %): " + "; ".join(
            f"labeler {i}: main thread {st['main']:.0%}, any Python thread {st['python']:.0%}, any thread {st['any']:.0%}"
            for i, st in enumerate(result["states"])))
    since, until = first["wall"], last["wall"]
    for index, trace in enumerate(result["traces"]):
        print(f"   labeler {index} in the window: " + trace_summary(trace, since, until))
        print(f"   labeler {index} threads (CPU s, whole run): "
              + ", ".join(f"{name} {sec:.1f}" for name, sec in sorted(result["threads"][index].items(), key=lambda kv: -kv[1])))
    print("   slice   | committed/s by partition | labelers' cores | broker bench machine")
    begin = samples[0]
    for s in samples[1:]:
        if s["t"] - begin["t"] >= slice_seconds or s is samples[-1]:
            seconds = s["t"] - begin["t"]
            rates = [(b - a) / seconds for a, b in zip(begin["committed"], s["committed"], strict=True)]
            w = window(samples, begin, s, result["instances"])
            print(f"   {begin['t'] - t0:5.2f}-{s['t'] - t0:5.2f} | " + " ".join(f"{r:8,.0f}" for r in rates)
                  + " | " + " ".join(f"{c:.2f}" for c in w["labeler_cores"])
                  + f" | {w['broker_cores']:.2f} {w['bench_cores']:.2f} {w['machine_cores']:.2f}")
            begin = s
    return {"instances": result["instances"], "preload": result["preload"], "update": result["update"], "ends": ends,
            "window": measured, "states": result["states"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2], help="labelers of each run, in order")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--preload", action="store_true", help="produce the records before the labelers start")
    parser.add_argument("--set", action="append", default=[], help="labeler setting=value (integer), repeatable")
    parser.add_argument("--every", type=float, default=0.02, help="seconds between samples")
    parser.add_argument("--slice", type=float, default=0.5, help="seconds a line of the timeline")
    parser.add_argument("--states", type=float, help="sample the labelers' thread states every this many seconds "
                        "(costs this process ~0.2 cores at 0.01)")
    parser.add_argument("--json", type=Path, help="append each run's summary to this file (JSON lines)")
    args = parser.parse_args()
    update = {k: int(v) for k, v in (item.split("=", 1) for item in args.set)}
    bench = ThroughputBench(Settings(), BenchConfig())
    records = made_records(args.records)
    try:
        for index, instances in enumerate(args.instances):
            result = run(bench, instances, records, args.preload, update, args.every, f"{index}", args.states)
            summary = report(result, args.slice)
            summary["at"] = time.strftime("%H:%M:%S")
            if args.json:
                with args.json.open("a") as out:
                    out.write(json.dumps(summary) + "\n")
    finally:
        bench._clean_up()


if __name__ == "__main__":
    main()
