#!/usr/bin/env python3
"""The conditional gold bound pooled and per reviewer on the exhaustion harness (docs/contract.md, section 5,
"Conditional gold bound per reviewer").

    .venv/bin/python bench/conditional_exhaustion.py

Runs ``first_proof`` of ``tests/core/test_calibration_weighted_conditional.py`` (deterministic: seeded) over seeds
0 to N - 1 for three cases of the follower pool (ann, cy and bo agree with a right proposal 99 % of the time and take
5, 10 and 90 % of the wrong ones; stream shares 30 / 10 / 60 %, gold shares the same until bo runs out): bo out of
gold items after 300 steps with a model at the target (a proof is an error), the same with gold spread as the stream
to the end (a proof is an error), and gold spread as the stream with a model right 99 % of the time (a proof is the
point). Prints, per case and bound, the runs that proved and the median step of the first proof; with ``--bars``
only the bars after 12,000 gold answers (seed 0; gold as the stream, and bo out of gold at 300): the pooled bar and
each reviewer's.
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from test_calibration_weighted_conditional import BUSY, FOLLOWER_POOL, NAMES, first_proof  # noqa: E402

from labelstream.core.calibration_reviewers import ConditionalGoldBound  # noqa: E402
from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound  # noqa: E402

CASES = (
    ("bo out of gold at step 300, a model at the target", 20, 12000, {"bo_out_of_gold_at": 300}),
    ("gold spread as the stream, a model at the target", 20, 12000, {}),
    ("gold spread as the stream, a model right 99 %", 20, 12000, {"precision": 0.99}),
)


def bars(steps: int = 12000, seed: int = 0) -> None:
    """The pooled bar and each reviewer's after ``steps`` gold answers drawn as the harness draws them."""
    for out_at in (None, 300):
        rng = random.Random(seed)
        weighted, pooled = StreamWeightedConditionalGoldBound(0.025), ConditionalGoldBound(0.025)
        golds = BUSY
        for step in range(steps):
            if step == out_at:
                golds = (*golds[:2], 0.0)
            name = rng.choices(NAMES, weights=golds)[0]
            right, (r, b) = rng.random() >= 0.5, FOLLOWER_POOL[name]
            agreed = rng.random() < (r if right else b)
            weighted.learn(right, agreed, name)
            pooled.learn(right, agreed)
        each = ", ".join(f"{name} {weighted.bar_of(0.95, name):.4f}" for name in NAMES)
        print(
            f"bo out of gold at {out_at}: pooled bar {pooled.bar(0.95):.4f} (B {pooled.wrong_bound.upper():.4f}); {each}"
        )


def main() -> None:
    if "--bars" in sys.argv:
        bars()
        return
    print("| case | bound | runs | proved | median step of the first proof |")
    print("|---|---|---:|---:|---:|")
    for name, runs, steps, options in CASES:
        for weighted in (False, True):
            proofs = [first_proof(seed, BUSY, BUSY, FOLLOWER_POOL, weighted, steps, **options) for seed in range(runs)]
            proved = [step for step in proofs if step is not None]
            median = statistics.median(proved) if proved else "-"
            bound = "per reviewer" if weighted else "pooled"
            print(f"| {name} ({steps:,} steps) | {bound} | {runs} | {len(proved)} | {median} |", flush=True)


if __name__ == "__main__":
    main()
