#!/usr/bin/env python3
"""The late, noisy reviewer's coverage with reviewer accuracy measured on gold items, against overlap items.

    .venv/bin/python bench/coverage_gold.py
    .venv/bin/python bench/coverage_gold.py --streams sea,sea_drift --jobs 1 --no-oracle
    .venv/bin/python bench/coverage_gold.py --streams sea,sea_drift,agrawal_drift --seeds 42,1,2
    .venv/bin/python bench/coverage_gold.py --streams sea,sea_drift --seeds 42,1,2 --variants "gold 10 %,gold 10 % conditional"
    .venv/bin/python bench/coverage_gold.py --streams sea,sea_drift --seeds 42,1,2 --no-oracle --variants "gold 10 %,gold 10 % conditional half wrong"
    .venv/bin/python bench/coverage_gold.py --streams sea,sea_drift --seeds 42,1,2 --pool 0.01,0.02,0.03 --variants "gold 10 %,gold 10 % weighted"
    .venv/bin/python bench/coverage_gold.py --streams sea,sea_drift --seeds 42,1,2 --no-oracle --pool 0.05,0.1,0.9 --errors follows_model --variants "gold 10 % conditional,gold 10 % conditional weighted"

Runs the coverage table's own jobs (:class:`~labelstream.simulate.coverage.Job`: its streams, sizes and seeds, one
seed a stream unless ``--seeds`` gives synthetic streams others; default settings but the ones named) with its late, noisy reviewer (300 records late, wrong 3 % of
the time) for: the defaults; ``review.gold_share`` 5 % and 10 % with ``policy.reviewer_accuracy_from_gold``; and
``review.overlap_share`` 10 % with ``policy.reviewer_accuracy_from_overlap``; and both sources at 10 % (each
bound a quarter of the error); ``--variants`` adds ``gold 10 % conditional`` (``policy.gold_bound = "conditional"``:
what the bound sound against reviewers who follow the model costs with independent errors), ``gold 10 %
conditional half wrong`` (the same on a gold set with half its proposals wrong, :class:`SimulatedGoldSet`) and ``gold
10 % weighted``, ``gold 5 % weighted`` (``policy.gold_bound = "weighted"``: per reviewer, weighed by the stream; with
the one simulated reviewer, the pooled bound at half its error), ``gold 10 % conditional weighted`` (``"conditional-weighted"``:
the conditional bound per reviewer) and its ``half wrong`` form; ``--errors follows_model`` makes the reviewer (or
the pool) right wherever the model is, taking its wrong proposal at the error rate. Gold and second answers spend the
review budget alike (one more answer each), so the review share column is the same reviewer effort. Prints one
row per stream (and seed) and configuration against that stream's hindsight oracle (docs/contract.md, "Reviewer accuracy
measured on gold items", cites it).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from coverage_noise import print_rows

from labelstream.simulate.coverage import (
    DEFAULT,
    ORACLE_GRID,
    REVIEWERS,
    CoverageRun,
    Job,
    Reviewer,
    Variant,
    coverage_streams,
)
from labelstream.simulate.datasets import export_dataset
from labelstream.simulate.quality import BenchStream

INSTANT, LATE_NOISY = REVIEWERS
VARIANTS: tuple[Variant, ...] = (
    DEFAULT,
    Variant("gold 5 %", {"review.gold_share": 0.05, "reviewer_accuracy_from_gold": True}),
    Variant("gold 10 %", {"review.gold_share": 0.1, "reviewer_accuracy_from_gold": True}),
    Variant("overlap 10 %", {"review.overlap_share": 0.1, "reviewer_accuracy_from_overlap": True}),
    Variant(
        "gold 10 % + overlap 10 %",
        {
            "review.gold_share": 0.1,
            "reviewer_accuracy_from_gold": True,
            "review.overlap_share": 0.1,
            "reviewer_accuracy_from_overlap": True,
        },
    ),
)
CONDITIONAL = Variant(
    "gold 10 % conditional",
    {"review.gold_share": 0.1, "reviewer_accuracy_from_gold": True, "gold_bound": "conditional"},
)
ENRICHED = Variant("gold 10 % conditional half wrong", CONDITIONAL.policy, gold_wrong_share=0.5)
WEIGHTED = Variant(
    "gold 10 % weighted", {"review.gold_share": 0.1, "reviewer_accuracy_from_gold": True, "gold_bound": "weighted"}
)
CONDITIONAL_WEIGHTED = Variant(
    "gold 10 % conditional weighted",
    {"review.gold_share": 0.1, "reviewer_accuracy_from_gold": True, "gold_bound": "conditional-weighted"},
)
CONDITIONAL_WEIGHTED_ENRICHED = Variant(
    "gold 10 % conditional weighted half wrong", CONDITIONAL_WEIGHTED.policy, gold_wrong_share=0.5
)
WEIGHTED_5 = Variant(
    "gold 5 % weighted", {"review.gold_share": 0.05, "reviewer_accuracy_from_gold": True, "gold_bound": "weighted"}
)


def _name(stream: BenchStream, seeded: bool) -> str:
    return f"{stream.dataset} seed {stream.seed}" if seeded else stream.dataset


def _run(job: Job) -> CoverageRun:
    return job.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--streams",
        default="sea,sea_drift,agrawal_drift,bananas",
        help="comma-separated names of the coverage table's streams",
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel simulations (the machine is shared: 2 at most)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the hindsight oracle's grid (no ratio column)")
    parser.add_argument("--seeds", help="comma-separated stream and model seeds (default: the table's)")
    parser.add_argument("--variants", help="comma-separated configurations (default: all but the conditional one)")
    parser.add_argument(
        "--pool",
        help="comma-separated error rates: a pool of reviewers 300 records late sharing the "
        "answers equally (and their gold items) in place of the one late, noisy reviewer",
    )
    parser.add_argument(
        "--errors",
        default="independent",
        choices=("independent", "with_model", "follows_model"),
        help="the reviewers' error mode (follows_model: right where the model is)",
    )
    args = parser.parse_args()
    reviewer = dataclasses.replace(LATE_NOISY, errors=args.errors)
    if args.pool:
        rates = tuple(float(rate) for rate in args.pool.split(","))
        reviewer = Reviewer(f"pool {args.pool} wrong, delay 300", "300", pool=rates, errors=args.errors)
    known = {
        variant.name: variant
        for variant in (
            *VARIANTS,
            CONDITIONAL,
            ENRICHED,
            WEIGHTED,
            WEIGHTED_5,
            CONDITIONAL_WEIGHTED,
            CONDITIONAL_WEIGHTED_ENRICHED,
        )
    }
    variants = [known[name] for name in args.variants.split(",")] if args.variants else list(VARIANTS)
    table = {stream.dataset: stream for stream in coverage_streams()}
    streams = [
        table[name] if not args.seeds else dataclasses.replace(table[name], seed=int(seed))
        for name in args.streams.split(",")
        for seed in (args.seeds or "-").split(",")
    ]
    names = [_name(stream, bool(args.seeds)) for stream in streams]
    with tempfile.TemporaryDirectory(prefix="labelstream-coverage-gold-") as tmp:
        work: list[Job] = []
        for stream, name in zip(streams, names, strict=True):
            path = Path(tmp) / f"{name}.csv"
            export_dataset(stream.dataset, path, stream.size, stream.seed)
            work += [Job(stream, path, reviewer, variant) for variant in variants]
            if not args.no_oracle:
                work += [Job(stream, path, INSTANT, DEFAULT, t) for t in ORACLE_GRID]
        with ProcessPoolExecutor(args.jobs) as executor:
            results = list(executor.map(_run, work))
    for job, run in zip(work, results, strict=True):
        run.stream = _name(job.stream, bool(args.seeds))  # the row's name: the stream and its seed
    print_rows(names, results)


if __name__ == "__main__":
    main()
