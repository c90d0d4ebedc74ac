#!/usr/bin/env python3
"""Where the late, noisy reviewer's coverage goes: delay, noise, the bar, the recheck, one at a time.

    .venv/bin/python bench/coverage_noise.py
    .venv/bin/python bench/coverage_noise.py --streams sea --jobs 1

The coverage table (``labelstream bench quality --part coverage``) compares an instant, perfect reviewer with one
300 records late *and* wrong 3 % of the time. This runs the table's own jobs
(:class:`~labelstream.simulate.coverage.Job`, default settings but the ones named, the table's seed) on the long
SEA stream (20,000 records) and ``sea_drift`` with the two halves apart — late only, wrong only — and with the
contract told the noise (``reviewer_accuracy = 0.97``: the bar a known error rate allows, sound for reviewers
wrong at least that often) and without the per-version recheck (``version_recheck = false``: not sound against a
sliding model, a measure of the recheck's cost only). Prints one row per stream and configuration against the
stream's hindsight oracle (docs/contract.md, "Where the late, noisy reviewer's coverage goes", cites it).
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from labelstream.simulate.coverage import (
    DEFAULT,
    ORACLE_GRID,
    REVIEWERS,
    CoverageRun,
    Job,
    Reviewer,
    Variant,
    hindsight_oracle,
)
from labelstream.simulate.datasets import DATASETS, export_dataset
from labelstream.simulate.quality import SYNTHETIC_SEED, BenchStream

SIZES = {"sea": 20_000, "sea_drift": None}
LATE = Reviewer("delay 300", "300", 0.0)
WRONG = Reviewer("wrong 3 %", "0", 0.03)
TOLD = Variant("told 0.97", {"reviewer_accuracy": 0.97})
TOLD_NO_RECHECK = Variant("told 0.97, recheck off", {"reviewer_accuracy": 0.97, "version_recheck": False})
NO_RECHECK = Variant("recheck off", {"version_recheck": False})
INSTANT, LATE_NOISY = REVIEWERS
CONFIGURATIONS: tuple[tuple[Reviewer, Variant], ...] = (
    (INSTANT, DEFAULT), (INSTANT, NO_RECHECK), (LATE, DEFAULT),
    (WRONG, DEFAULT), (WRONG, TOLD), (WRONG, TOLD_NO_RECHECK),
    (LATE_NOISY, DEFAULT), (LATE_NOISY, NO_RECHECK), (LATE_NOISY, TOLD), (LATE_NOISY, TOLD_NO_RECHECK),
)


def _run(job: Job) -> CoverageRun:
    return job.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="sea,sea_drift", help="comma-separated, of: sea, sea_drift")
    parser.add_argument("--jobs", type=int, default=2, help="parallel simulations (the machine is shared: 2 at most)")
    args = parser.parse_args()
    names = args.streams.split(",")
    with tempfile.TemporaryDirectory(prefix="labelstream-coverage-noise-") as tmp:
        work: list[Job] = []
        for name in names:
            stream = BenchStream(name, DATASETS[name].model, SIZES[name], SYNTHETIC_SEED)
            path = Path(tmp) / f"{name}.csv"
            export_dataset(name, path, SIZES[name], SYNTHETIC_SEED)
            work += [Job(stream, path, reviewer, variant) for reviewer, variant in CONFIGURATIONS]
            work += [Job(stream, path, INSTANT, DEFAULT, t) for t in ORACLE_GRID]
        with ProcessPoolExecutor(args.jobs) as executor:
            results = list(executor.map(_run, work))
    print_rows(names, results)


def print_rows(names: list[str], results: list[CoverageRun]) -> None:
    """One Markdown row per stream and configuration, against the stream's hindsight oracle (if its grid ran)."""
    print("| stream | reviewer | configuration | auto share | / oracle | precision (truth) | worst window | review share |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        mine = [run for run in results if run.stream == name]
        best = hindsight_oracle(mine, 0.95)
        for run in (r for r in mine if r.threshold is None):
            ratio = "-" if best is None or not best.auto_share else f"{run.auto_share / best.auto_share:.2f}"
            print(f"| {name} | {run.reviewer} | {run.variant} | {run.auto_share:.1%} | {ratio} | "
                  f"{_pct(run.auto_precision)} | {_pct(run.worst_window)} | {run.review_share:.1%} |")
        if best is not None:
            print(f"| {name} | oracle | threshold {best.threshold} | {best.auto_share:.1%} | 1.00 | "
                  f"{_pct(best.auto_precision)} | - | {best.review_share:.1%} |")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    main()
