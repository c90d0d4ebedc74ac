#!/usr/bin/env python3
"""Run the fault suite at benchmark size and write RELIABILITY.md from its figures.

    .venv/bin/python bench/faults.py                 # 200000 records per scenario
    .venv/bin/python bench/faults.py --records 20000 # the CI size

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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per fault scenario")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--rate", type=float, default=None, help="records per second (default: records / 100, at least 250)")
    parser.add_argument("--out", type=Path, default=REPO / "RELIABILITY.md")
    args = parser.parse_args()

    report_dir = Path(tempfile.mkdtemp(prefix="labelstream-faults-"))
    env = {**os.environ, "LABELSTREAM_FAULTS_RECORDS": str(args.records), "LABELSTREAM_FAULTS_SEED": str(args.seed),
           "LABELSTREAM_FAULTS_REPORT": str(report_dir)}
    if args.rate:
        env["LABELSTREAM_FAULTS_RATE"] = str(args.rate)
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-m", "faults", "tests/faults", "-p", "no:cacheprovider", "-q", "-s",
               "--timeout", "3600"]
    result = subprocess.run(command, cwd=REPO, env=env, check=False)
    if result.returncode != 0:
        print(f"the fault suite failed (exit {result.returncode}); RELIABILITY.md not written", file=sys.stderr)
        return result.returncode
    figures = {path.stem: json.loads(path.read_text()) for path in sorted(report_dir.glob("*.json"))}
    args.out.write_text(render(figures, args, time.monotonic() - started))
    print(f"wrote {args.out}")
    return 0


def render(figures: dict, args: argparse.Namespace, seconds: float) -> str:
    crash, rebalance = figures["crash_recovery"], figures["rebalance"]
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
        f".venv/bin/python bench/faults.py --records {args.records} --seed {args.seed}" + (f" --rate {args.rate:g}" if args.rate else ""),
        "```",
        "",
        f"CI runs the same suite at 20000 records (`make test`). This run: {seconds / 60:.1f} minutes in all.",
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
        f"| learned by the learner (`corrections_applied`, snapshot `n_learned`) | {crash['audit']['learned']}, {crash['audit']['snapshot_learned']} |",
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
        "The dead labeler's partitions wait for its session to time out (10 s, static membership) and",
        "for its open transaction to be aborted by the broker (`labeler.transaction_timeout_ms`, 30 s).",
        "",
    ]
    if "fuzz" in figures or "backpressure" in figures:
        lines += ["## Bad input and backpressure", "", "| figure | value |", "|---|---|"]
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
    lines += [(REPO / "bench" / "weaker_guarantees.md").read_text()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
