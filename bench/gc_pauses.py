#!/usr/bin/env python3
"""The broker's stop-the-world pauses from its JVM log, in a time window: how many, how long, how often.

    # the broker started with its GC and safepoint log (deploy/stack.sh passes these JVM options through)
    LABELSTREAM_KAFKA_JVM_OPTS="-XX:+UseG1GC -Xlog:gc,gc+phases,safepoint:file=/tmp/gc.log:time,uptime" deploy/stack.sh start kafka
    .venv/bin/python bench/gc_pauses.py /tmp/gc.log --since 2026-12-02T18:00:00 --until 2026-12-02T18:05:00

Every safepoint counts (a GC pause is one; so are the JVM's own, e.g. code cache or biased-lock
clean-ups): its total is the time to reach it plus the time at it, what a request waiting on the
broker sees. The collector's own "Pause ..." lines are summarized beside it (kind by kind).
"""

from __future__ import annotations

import argparse
import collections
import re
from datetime import datetime
from pathlib import Path

LINE = re.compile(r"^\[(?P<time>[^\]]+)\]\[[^\]]+\] (?P<text>.*)$")
SAFEPOINT = re.compile(r'Safepoint "(?P<op>[^"]+)".*Total: (?P<ns>\d+) ns')
PAUSE = re.compile(r"GC\(\d+\) (?P<kind>Pause [A-Za-z ]+?)(?: \(.*?\))*(?: [\dKMG]+->.*)? (?P<ms>[\d.]+)ms$")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("+0000", "+00:00"))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def describe(values: list[float], seconds: float) -> str:
    if not values:
        return "none"
    return (f"{len(values)} ({len(values) / seconds:.2f}/s), p50 {quantile(values, 0.5):.1f} p90 {quantile(values, 0.9):.1f} "
            f"max {max(values):.1f} ms, {sum(values) / seconds / 10:.2f} % of the time")


def summarize(log: Path, since: datetime | None, until: datetime | None) -> str:
    safepoints: list[float] = []
    over_1ms: collections.Counter[str] = collections.Counter()
    pauses: dict[str, list[float]] = collections.defaultdict(list)
    first = last = None
    for raw in log.read_text().splitlines():
        match = LINE.match(raw)
        if not match:
            continue
        when = parse_time(match["time"])
        if (since and when < since) or (until and when > until):
            continue
        first, last = first or when, when
        if (sp := SAFEPOINT.search(match["text"])) is not None:
            ms = int(sp["ns"]) / 1e6
            safepoints.append(ms)
            if ms >= 1:
                over_1ms[sp["op"]] += 1
        elif (pause := PAUSE.search(match["text"])) is not None:
            pauses[pause["kind"]].append(float(pause["ms"]))
    since, until = since or first, until or last
    if since is None or until is None:
        return f"{log}: no lines in the window"
    seconds = max((until - since).total_seconds(), 1e-9)
    out = [f"{log.name} {since:%H:%M:%S}-{until:%H:%M:%S} ({seconds:.0f} s)",
           f"  safepoints (STW, reach + at): {describe(safepoints, seconds)}; >= 1 ms by operation: {dict(over_1ms)}"]
    out += [f"  {kind}: {describe(values, seconds)}" for kind, values in sorted(pauses.items())]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--since", type=lambda t: datetime.fromisoformat(t + "+00:00"), help="UTC, e.g. 2026-12-02T18:00:00")
    parser.add_argument("--until", type=lambda t: datetime.fromisoformat(t + "+00:00"))
    args = parser.parse_args()
    for log in args.logs:
        print(summarize(log, args.since, args.until))


if __name__ == "__main__":
    main()
