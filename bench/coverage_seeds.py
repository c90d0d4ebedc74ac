#!/usr/bin/env python3
"""The coverage table's rows on several seeds: a policy setting's values against each seed's hindsight oracle.

    .venv/bin/python bench/coverage_seeds.py --setting version_recheck_patience --values '0;20;40;80'
    .venv/bin/python bench/coverage_seeds.py --setting version_recheck_starts --values '[0, 0.7, 0.9];[0, 0.6, 0.7, 0.9]'
    .venv/bin/python bench/coverage_seeds.py --setting version_recheck_patience --values 40 --seeds 42,1,2,3,4

The coverage table (``labelstream bench quality --part coverage``) runs one seed a stream; a setting chosen on
one seed can be read wrong. This runs the table's own jobs (:class:`~labelstream.simulate.coverage.Job`: the
instant reviewer, the default settings but the one given) on the long SEA stream (20,000 records) and
``sea_drift``, each seed a new stream and model seed, and each seed's hindsight oracle (the ``threshold``
policy over :data:`~labelstream.simulate.coverage.ORACLE_GRID`). Prints one row per stream, seed and value,
then the median ratio to the oracle per stream and value (docs/contract.md cites it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from labelstream.simulate.coverage import DEFAULT, ORACLE_GRID, REVIEWERS, CoverageRun, Job, Variant, hindsight_oracle
from labelstream.simulate.datasets import DATASETS, export_dataset
from labelstream.simulate.quality import BenchStream

STREAMS = {"sea": 20_000, "sea_drift": None}


def _run(job: Job) -> tuple[str, int, CoverageRun]:
    return job.stream.dataset, job.stream.seed, job.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", required=True, help="a policy setting, e.g. version_recheck_patience")
    parser.add_argument("--values", required=True, help="values separated by ';' (JSON each: 40, 0.1, [0, 0.7])")
    parser.add_argument("--seeds", default="42,1,2", help="comma-separated stream and model seeds (default 42,1,2)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel simulations (the machine is shared: 2 at most)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    values = [json.loads(v) for v in args.values.split(";")]
    with tempfile.TemporaryDirectory(prefix="labelstream-coverage-seeds-") as tmp:
        work: list[Job] = []
        for name, size in STREAMS.items():
            for seed in seeds:
                stream = BenchStream(name, DATASETS[name].model, size, seed)
                path = Path(tmp) / f"{name}-{seed}.csv"
                export_dataset(name, path, size, seed)
                work += [Job(stream, path, REVIEWERS[0], Variant(f"{args.setting}={json.dumps(v)}", {args.setting: v})) for v in values]
                work += [Job(stream, path, REVIEWERS[0], DEFAULT, t) for t in ORACLE_GRID]
        with ProcessPoolExecutor(args.jobs) as executor:
            results = list(executor.map(_run, work))
    ratios: dict[tuple[str, str], list[float]] = {}
    print("| stream | seed | variant | auto share | precision | review share | worst window | oracle | / oracle |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in STREAMS:
        for seed in seeds:
            mine = [run for stream, s, run in results if stream == name and s == seed]
            best = hindsight_oracle(mine, 0.95)
            for run in (r for r in mine if r.threshold is None):
                ratio = run.auto_share / best.auto_share if best and best.auto_share else None
                if ratio is not None:
                    ratios.setdefault((name, run.variant), []).append(ratio)
                print(f"| {name} | {seed} | {run.variant} | {run.auto_share:.1%} | {_pct(run.auto_precision)} | "
                      f"{run.review_share:.1%} | {_pct(run.worst_window)} | "
                      f"{'-' if best is None else f'{best.auto_share:.1%} at {best.threshold}'} | "
                      f"{'-' if ratio is None else f'{ratio:.3f}'} |")
    for (name, variant), values_ in ratios.items():
        print(f"median / oracle, {name}, {variant}: {statistics.median(values_):.3f} (seeds {args.seeds})")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    main()
