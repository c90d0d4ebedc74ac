"""The throughput benchmark's results and their arithmetic: one measured run, routing shares, medians of
within-round ratios, the scaling pairs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


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
