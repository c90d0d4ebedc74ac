"""A per-transaction trace of the labeler loop (``labeler.trace_file``): where a record's latency goes.

One JSON line per committed transaction:

- ``at``: epoch seconds when the loop began collecting it;
- ``records``, ``ahead``: its records, and how many of them were fetched (and
  routed) ahead while the transaction before it committed;
- ``oldest_s``, ``youngest_s``: how long its oldest and youngest record had
  waited (since their Kafka timestamps) when it began: a batch whose youngest
  record had already waited long is a queue (the labeler behind the offered
  rate), one whose oldest had not is a labeler keeping up;
- ``chunks``: ``[records, ms]`` of each fetch routed and produced into it;
- ``ms``: its phases: ``collect`` (fetching, routing, producing), ``redis``
  (waiting for the side effects), ``send_offsets``, ``commit``, ``join`` (the
  routing ahead), ``count``.

``labelstream bench throughput`` turns on the trace of its latency runs and
summarizes it (:func:`summarize`). Off by default: it reads every message's
timestamp and writes a line a transaction.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Message

PHASES = ("collect", "redis", "send_offsets", "commit", "join", "count")


class TransactionTrace:
    """Appends the trace lines (unbuffered: a killed labeler loses no committed line)."""

    def __init__(self, path: str | Path) -> None:
        self._file = Path(path).open("ab", buffering=0)  # noqa: SIM115 - open for the labeler's life, closed in close()

    def write(
        self, began_at: float, messages: Sequence[Message], ahead: int, chunks: Sequence[tuple[int, float]],
        marks: Sequence[float], began: float,
    ) -> None:
        """``marks``: perf_counter at the end of collecting and of each later phase; ``began`` the one at its start."""
        stamps = [m.timestamp()[1] for m in messages]
        edges = [began, *marks]
        line = {
            "at": round(began_at, 4),
            "records": len(messages),
            "ahead": ahead,
            "oldest_s": round(began_at - min(stamps) / 1000, 4),
            "youngest_s": round(began_at - max(stamps) / 1000, 4),
            "chunks": [[n, round(seconds * 1000, 2)] for n, seconds in chunks],
            "ms": {phase: round((b - a) * 1000, 2) for phase, a, b in zip(PHASES, edges, edges[1:], strict=False)},
        }
        self._file.write(orjson.dumps(line) + b"\n")

    def close(self) -> None:
        self._file.close()


def summarize(path: str | Path, batch_size: int, since: float | None = None) -> dict[str, Any]:
    """What a trace says (transactions that began at ``since`` or later): how many, their size, how many were full,
    how long the oldest and the youngest record of a record's transaction had waited when it began (p50/p99 over
    records), and the p50/p99 of each phase over transactions (ms)."""
    rows = [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]
    rows = [row for row in rows if since is None or row["at"] >= since]
    if not rows:
        return {"transactions": 0}

    def pct(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"p50": round(statistics.median(ordered), 1), "p99": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)}

    return {
        "transactions": len(rows),
        "records_median": statistics.median(row["records"] for row in rows),
        "full_share": round(sum(row["records"] >= batch_size for row in rows) / len(rows), 3),
        # each transaction counted once a record it holds, as records see them (a burst after a stall is many)
        "oldest_waited_ms": pct([row["oldest_s"] * 1000 for row in rows for _ in range(row["records"])]),
        "youngest_waited_ms": pct([row["youngest_s"] * 1000 for row in rows for _ in range(row["records"])]),
        "cycle_ms": pct([sum(row["ms"].values()) for row in rows]),
        "phases_ms": {phase: pct([row["ms"].get(phase, 0.0) for row in rows]) for phase in PHASES},
    }


def describe(summary: dict[str, Any]) -> str:
    """One sentence of :func:`summarize`'s figures."""
    if not summary.get("transactions"):
        return "no transaction traced"
    phases = summary["phases_ms"]
    return (
        f"{summary['transactions']} transactions of {summary['records_median']:.0f} records (median), "
        f"{summary['full_share']:.0%} of them full; when a record's transaction began, its oldest record had waited "
        f"{summary['oldest_waited_ms']['p50']:.0f} ms (p50) / {summary['oldest_waited_ms']['p99']:.0f} ms (p99), "
        f"its youngest {summary['youngest_waited_ms']['p50']:.0f} / {summary['youngest_waited_ms']['p99']:.0f} ms; "
        f"a transaction took {summary['cycle_ms']['p50']:.0f} / {summary['cycle_ms']['p99']:.0f} ms, of which collecting "
        f"{phases['collect']['p50']:.0f} / {phases['collect']['p99']:.0f}, send_offsets {phases['send_offsets']['p50']:.0f} / "
        f"{phases['send_offsets']['p99']:.0f}, commit {phases['commit']['p50']:.0f} / {phases['commit']['p99']:.0f}, "
        f"joining the routing ahead {phases['join']['p50']:.0f} / {phases['join']['p99']:.0f}"
    )
