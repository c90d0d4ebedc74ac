#!/usr/bin/env python3
"""The ceiling of the coverage table's short streams: what any valid test could auto-label there.

    .venv/bin/python bench/coverage_bound.py                       # phishing, bananas, image_segments
    .venv/bin/python bench/coverage_bound.py --stream phishing

For each stream it runs the coverage table's hindsight oracle (the ``threshold`` policy at each threshold of
``ORACLE_GRID``, instant perfect reviewer, the default budget) and, on the prequential scores of the oracle's
runs (each class its best threshold), the ceiling of :mod:`labelstream.simulate.coverage_bound`: the expected auto share of the most
powerful valid test with the threshold chosen in hindsight and every answer the budget allows in the class's
region at once. Prints one row per class and the ceiling over the oracle (docs/contract.md cites it).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from labelstream.datafile import open_rows
from labelstream.settings import load_settings
from labelstream.simulate.coverage import ORACLE_GRID, REVIEWERS, WINDOW, coverage_streams
from labelstream.simulate.coverage_bound import ceiling, fewest_answers
from labelstream.simulate.datasets import export_dataset
from labelstream.simulate.runner import Simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", action="append", help="phishing, bananas, image_segments (default: all three)")
    args = parser.parse_args()
    names = args.stream or ["phishing", "bananas", "image_segments"]
    policy = load_settings().policy
    budget, target, confidence = policy.review_budget_share, policy.target_precision, policy.confidence_level
    print(
        f"target {target}, confidence {confidence}, budget {budget}: a threshold needs at least "
        f"{fewest_answers(target, confidence)} answers above it, all agreeing, before its first auto-label"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for stream in (s for s in coverage_streams() if s.dataset in names):
            path = Path(tmp) / f"{stream.dataset}.csv"
            export_dataset(stream.dataset, path, stream.size, stream.seed)
            best, runs = None, {}
            for t in ORACLE_GRID:
                settings = load_settings(
                    model={"name": stream.model, "seed": stream.seed},
                    policy={"seed": stream.seed, "name": "threshold", "confidence_threshold": t},
                )
                result = Simulation(settings, WINDOW, deferred_ttl=2000, reviewer=REVIEWERS[0].build(stream.seed)).run(
                    open_rows(path, label_column="label", id_column="id")
                )
                report, runs[t] = result.report, result.outcomes
                if (report["auto_precision"] or 0.0) >= target and (best is None or report["auto_share"] > best[1]):
                    best = (t, report["auto_share"])
            if best is None:
                print(f"{stream.dataset}: no oracle threshold meets the target")
                continue
            for pooled in (False, True):
                share, rows = ceiling(runs, budget, target, confidence, pooled=pooled)
                print(
                    f"{stream.dataset}{' pooled' if pooled else ''}: oracle {best[1]:.1%} @{best[0]}; "
                    f"ceiling {share:.1%} = {share / best[1]:.2f} of the oracle"
                )
                for row in rows:
                    print(
                        f"  class {row.label}: threshold {row.threshold}, {row.records} records at precision "
                        f"{row.precision:.4f}, {row.answers} answers, power {row.power:.2f}, "
                        f"expected auto {row.expected_auto:.0f}"
                    )


if __name__ == "__main__":
    main()
