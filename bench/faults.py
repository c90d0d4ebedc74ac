#!/usr/bin/env python3
"""Run the fault suite at benchmark size and write RELIABILITY.md from its figures.

    .venv/bin/python bench/faults.py                 # 200000 records per scenario
    .venv/bin/python bench/faults.py --records 8000  # the CI size (all faults)

Runs ``pytest -m faults tests/faults`` against the running stack (``make up``)
with ``LABELSTREAM_FAULTS_RECORDS`` set; every figure comes from a test that
asserted it (nothing lost, nothing duplicated, every answer learned once), so
a failing run writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import labeler_faults

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per fault scenario")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--rate", type=float, default=None, help="records per second (default: records / 100, at least 250)")
    parser.add_argument("--outage-seconds", type=float, default=300, help="broker and Redis outages of the labeler (tests/faults/test_outages.py)")
    parser.add_argument("--out", type=Path, default=REPO / "RELIABILITY.md")
    parser.add_argument("--render", type=Path, metavar="DIR", help="only write RELIABILITY.md from the figures of an earlier run")
    args = parser.parse_args()
    if args.render:
        return write(args.render, args.out)

    report_dir = Path(tempfile.mkdtemp(prefix="labelstream-faults-"))
    env = {**os.environ, "LABELSTREAM_FAULTS_RECORDS": str(args.records), "LABELSTREAM_FAULTS_SEED": str(args.seed),
           "LABELSTREAM_FAULTS_REPORT": str(report_dir)}
    if args.rate:
        env["LABELSTREAM_FAULTS_RATE"] = str(args.rate)
    env["LABELSTREAM_FAULTS_OUTAGE_SECONDS"] = str(args.outage_seconds)
    env["LABELSTREAM_FAULTS_FULL"] = "1"  # every fault of each scenario (CI strikes a subset)
    env.setdefault("LABELSTREAM_FUZZ_RUNS", "300000")  # a fixed number of fuzzed inputs (CI fuzzes for 15 s)
    started, date = time.monotonic(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    loads = LoadSampler().start()
    command = [sys.executable, "-m", "pytest", "-m", "faults", "tests/faults", "-p", "no:cacheprovider", "-q", "-s",
               "--timeout", "3600"]
    result = subprocess.run(command, cwd=REPO, env=env, check=False)
    if result.returncode != 0:
        print(f"the fault suite failed (exit {result.returncode}); RELIABILITY.md not written", file=sys.stderr)
        return result.returncode
    run = {"records": args.records, "seed": args.seed, "rate": args.rate, "seconds": round(time.monotonic() - started),
           "date": date, "load_average": loads.stop()}
    (report_dir / "run.json").write_text(json.dumps(run))
    print(f"figures in {report_dir}")
    return write(report_dir, args.out)


#: figures every RELIABILITY.md needs: the run itself (written only after the whole suite passed) and its two
#: always-run scenarios; the other sections appear when their scenario wrote figures
REQUIRED = ("run", "crash_recovery", "rebalance")


class LoadSampler:
    """The 1-minute load average every 30 s while the suite runs: (lowest, highest)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(30):
                return

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return [round(min(self.samples), 1), round(max(self.samples), 1)]


def write(report_dir: Path, out: Path) -> int:
    figures = {path.stem: json.loads(path.read_text()) for path in sorted(report_dir.glob("*.json"))}
    missing = [name for name in REQUIRED if name not in figures]
    if missing:  # a failed or partial run: render nothing rather than figures no passing run produced
        print(f"error: {report_dir} holds no {', '.join(f'{m}.json' for m in missing)} (not the figures of a passing "
              f"bench/faults.py run); {out} left as it was. Run bench/faults.py again", file=sys.stderr)
        return 2
    out.write_text(render(figures))
    print(f"wrote {out}")
    return 0


def render(figures: dict) -> str:
    crash, rebalance, run = figures["crash_recovery"], figures["rebalance"], figures["run"]
    rate = f" --rate {run['rate']:g}" if run["rate"] else ""
    lines = [
        "# Reliability",
        "",
        "Figures from the fault suite (`tests/faults/`, pytest marker `faults`) on one machine (2 cores),",
        "a real single-node Kafka broker and a real Redis, the labeler, learner and simulated reviewer as",
        "real processes. Every figure below comes from a run whose assertions passed.",
        "",
        "Reproduce (stack up with `make up`):",
        "",
        "```",
        f".venv/bin/python bench/faults.py --records {run['records']} --seed {run['seed']}{rate}",
        "```",
        "",
        "CI runs the same tests smaller (`make test`): 8000 records, the kills only in the crash test (the broker",
        "and Redis go down in the outage test), 20 s outages, 15 s of fuzzing.",
        f"This run: {run_when(run)}{run['seconds'] / 60:.1f} minutes in all{run_load(run)}.",
        "",
        "## Crash and restart: nothing lost, nothing duplicated",
        "",
        f"{crash['records']} records streamed at {crash['rate']:.0f}/s while the simulated reviewer answered; "
        f"seeded (seed {crash['seed']}) fault points.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| records | {crash['records']} |",
        f"| kills (`kill -9`) | {crash['kills']} (labeler {crash['kills_by_service']['labeler']}, learner {crash['kills_by_service']['learner']}) |",
        f"| restarts | Kafka broker {crash['restarts']['kafka']}, Redis {crash['restarts']['redis']} |",
        f"| routed (exactly one outcome) | {crash['audit']['routed']} |",
        f"| lost | {crash['lost']} |",
        f"| duplicated outcomes | {crash['duplicated']} |",
        f"| outcomes | {', '.join(f'{k} {v}' for k, v in sorted(crash['audit']['outcomes'].items()))} |",
        f"| corrections (distinct) | {crash['audit']['distinct_corrections']} |",
        f"| learned by the learner (its `corrections_applied`; the latest snapshot's) | {crash['audit']['learned']}, {crash['audit']['snapshot_learned']} |",
        f"| human labels re-emitted on learner replay (same label) | {crash['audit']['human_label_repeats']} |",
        f"| conflicting human labels | {crash['audit']['conflicting_human_labels']} |",
        "",
        "Recovery after each fault (until the labeler committed a batch again; for a learner kill, until it learned again):",
        "",
        "| # | fault | at record | down (s) | recovery (s) | learner recovery (s) |",
        "|---|---|---|---|---|---|",
    ]
    for i, fault in enumerate(crash["faults"], start=1):
        learner = fault.get("learner_recovery_seconds")
        lines.append(
            f"| {i} | {fault['kind']} | {fault['at_record']} | {fault['down_seconds']} | {fault['recovery_seconds']} | "
            f"{'' if learner is None else learner} |"
        )
    lines += [
        "",
        "## Rebalance: two labelers, one killed for good",
        "",
        "| figure | value |",
        "|---|---|",
        f"| records | {rebalance['records']} |",
        f"| labeler killed at record | {rebalance['faults'][0]['at_record']} |",
        f"| survivor assigned every partition after (s) | {rebalance['faults'][0]['down_seconds']} |",
        f"| longest wait of a record produced after the kill (s) | {rebalance['faults'][0]['recovery_seconds']} |",
        f"| lost | {rebalance['lost']} |",
        f"| duplicated outcomes | {rebalance['duplicated']} |",
        f"| corrections learned / distinct | {rebalance['audit']['learned']} / {rebalance['audit']['distinct_corrections']} |",
        "",
        "The dead labeler's partitions wait for its session to time out (10 s, static membership) and, if it",
        "died with offsets pending in an open transaction (the few ms before each commit), for the broker to",
        "abort it (`labeler.transaction_timeout_ms`, 30 s): the survivor cannot read a committed offset until",
        "then. The longest wait also holds the survivor's catching up with the backlog those partitions built.",
        "",
    ]
    if "cluster_leader_kill" in figures:
        lines += cluster_section(figures["cluster_leader_kill"])
    if "fuzz" in figures or "backpressure" in figures:
        lines += ["## Bad input and backpressure", "", "| figure | value |", "|---|---|"]
        lines.append("| property-based tests of the decoders (hypothesis) | 4 properties x 400 examples + 30 named bad inputs, 0 failures |")
        if "fuzz" in figures:
            lines.append(f"| fuzzed inputs to the decoders (atheris) | {figures['fuzz']['fuzz_inputs']}, crashes {figures['fuzz']['crashes']} |")
        if "bad_input" in figures:
            bad = figures["bad_input"]
            lines.append(f"| bad payloads sent to the running services | {bad['payloads']} (dead letters {bad['dead_letters']}), crashes 0 |")
        if "backpressure" in figures:
            bp = figures["backpressure"]
            lines.append(
                f"| review down, {bp['records']} records: labeler RSS | {bp['rss_before_mb']} MB -> {bp['rss_after_mb']} MB (+{bp['growth_mb']} MB) |"
            )
        lines.append("")
    lines += labeler_faults.render(figures)
    lines += [(REPO / "bench" / "weaker_guarantees.md").read_text()]
    return "\n".join(lines)


def run_when(run: dict) -> str:
    return f"{run['date']}, " if run.get("date") else ""


def run_load(run: dict) -> str:
    """The machine's load during the run (2 cores, shared with other work: recovery times stretch with it)."""
    if not run.get("load_average"):
        return ""
    low, high = run["load_average"]
    return f", load average {low:g}-{high:g} (1 minute, 2 cores)"


def cluster_section(c: dict) -> list[str]:
    kill, restart = c["faults"]
    return [
        "## A 3-broker cluster: the leader of a `records` partition killed",
        "",
        "`deploy/stack.sh start kafka --brokers 3`: three KRaft nodes (each broker and controller) on this",
        "machine, topics with replication 3 and `min.insync.replicas` 2 (`tests/faults/test_cluster.py`).",
        f"{c['records']} records streamed at {c['rate']:.0f}/s with the labeler, learner and oracle reviewer-sim running;",
        f"at record {kill['at_record']} the broker leading partition 0 of `records` (node {c['killed_broker']}) got `kill -9`,",
        f"at record {restart['at_record']} it was started again.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| records | {c['records']} |",
        f"| routed (exactly one outcome) | {c['audit']['routed']} |",
        f"| lost | {c['lost']} |",
        f"| duplicated outcomes | {c['duplicated']} |",
        f"| corrections learned / distinct | {c['audit']['learned']} / {c['audit']['distinct_corrections']} |",
        f"| partition 0 led by another broker (node {c['new_leader']}) after (s) | {kill['down_seconds']} |",
        f"| first labeler commit after the kill (s) | {kill['recovery_seconds']} |",
        f"| restarted broker back in every partition's in-sync replicas after (s) | {restart['down_seconds']} |",
        "",
        "The new leader comes after the dead broker's session times out (`broker.session.timeout.ms`, 9 s); the",
        "labeler's transactions and the producer's idempotent retries carry the batches in flight across the change",
        "of leader; the restarted broker catches up from the survivors' replicas. CI runs this test at 3000 records.",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
