#!/usr/bin/env python3
"""The reviewer-accuracy bounds per extra answer: overlap pairs against gold items, errors independent or shared.

    .venv/bin/python bench/reviewer_bounds.py
    .venv/bin/python bench/reviewer_bounds.py --runs 100 --error-rate 0.05

Reviewers are wrong ``--error-rate`` of the time (two classes, the worst case for the overlap bound: two wrong
answers always agree). An overlap pair costs one extra answer (the second), a gold item one: each column is the
mean over ``--runs`` runs of the bound in force after that many extra answers, at the alpha each bound gets
alone by default (0.025: half of 1 - confidence_level 0.95). ``shared``: that share of a reviewer's errors falls
on hard items where both reviewers of a pair err together (the marginal error rate unchanged) — it makes the
overlap bound conservative, not the gold one, provided gold items are as hard as stream items
(docs/contract.md, "Reviewer accuracy measured on gold items", cites it).
"""

from __future__ import annotations

import argparse

import numpy as np

from labelstream.core.calibration_reviewers import CheckpointedAccuracyBound, GoldAccuracyBound, ReviewerAccuracyBound

CHECKPOINTS = (100, 200, 400, 800, 1600, 3200)


def overlap_agreements(rng: np.random.Generator, n: int, error: float, shared: float) -> np.ndarray:
    """Whether each of ``n`` pairs agrees; ``shared`` of each reviewer's errors are on items both get wrong."""
    both = rng.random(n) < error * shared
    alone = error * (1 - shared) / (1 - error * shared)
    wrong = rng.random((n, 2)) < alone
    return both | (wrong[:, 0] == wrong[:, 1])


def trace(bound: CheckpointedAccuracyBound, learn, successes: np.ndarray) -> list[float]:
    """The bound in force at each of :data:`CHECKPOINTS`."""
    seen = []
    for count, success in enumerate(successes, start=1):
        learn(bool(success))
        if count in CHECKPOINTS:
            seen.append(bound.upper())
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--error-rate", type=float, default=0.03)
    parser.add_argument("--alpha", type=float, default=0.025)
    args = parser.parse_args()
    n, error = CHECKPOINTS[-1], args.error_rate
    rows: dict[str, list[list[float]]] = {}
    for seed in range(args.runs):
        rng = np.random.default_rng(seed)
        gold = GoldAccuracyBound(args.alpha)
        rows.setdefault("gold items", []).append(trace(gold, gold.learn, rng.random(n) >= error))
        for shared in (0.0, 0.5, 1.0):
            pairs = ReviewerAccuracyBound(args.alpha)
            agree = overlap_agreements(rng, n, error, shared)
            rows.setdefault(f"overlap pairs, shared {shared:.0%}", []).append(
                trace(pairs, lambda same, b=pairs: b.learn_pair("a", "a" if same else "b"), agree))
    print(f"reviewers wrong {error:.0%} of the time (accuracy {1 - error:.3f}); mean bound of {args.runs} runs, "
          f"alpha {args.alpha}")
    print("| extra answers | " + " | ".join(f"{c:,}" for c in CHECKPOINTS) + " |")
    print("|---|" + "---:|" * len(CHECKPOINTS))
    for name, runs in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in np.mean(runs, axis=0)) + " |")


if __name__ == "__main__":
    main()
