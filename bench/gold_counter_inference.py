#!/usr/bin/env python3
"""What a reviewer alone on a quiet stream can infer from the coarse waiting counter (docs/review.md, "Tells left").

    .venv/bin/python bench/gold_counter_inference.py
    .venv/bin/python bench/gold_counter_inference.py --share 0.2 --step 5 --runs 2000

A deterministic simulation (seeded) of the rule ``claim.lua`` applies (:class:`QueueCounter`): ``--waiting`` records
wait, none arrive, one reviewer claims them all; a claim where ``gold_may_replace`` holds is a gold item with
probability ``--share`` (gold never runs out), else the real record in line. The reviewer sees the counter after each
claim. Prints: the share of claims that could have been gold and that were; and, for the ideal observer who counts
claims between two changes of the figure, how sure they can be that a gold claim was gold: the mean over gold claims
of their posterior (gold items in the window / claims in it that could be gold), against the prior (--share) and an
exact counter's 1.0. Checks on the way that the claim which lowers the figure and the one before it are never gold.
"""

from __future__ import annotations

import argparse
import random
import statistics

from labelstream.review.queue_counter import QueueCounter


def run(counter: QueueCounter, waiting: int, share: float, rng: random.Random) -> tuple[list[bool], list[str], int]:
    """(gold or not per claim, the figure after each claim, claims where gold could come)."""
    gold, shown, allowed = [], [], 0
    while waiting > 0:
        may = counter.gold_may_replace(waiting)
        allowed += may
        is_gold = may and rng.random() < share
        waiting -= 0 if is_gold else 1
        gold.append(is_gold)
        shown.append(counter.text(waiting))
    return gold, shown, allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--share", type=float, default=0.1, help="review.gold_share")
    parser.add_argument("--exact-below", type=int, default=10)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    counter, rng = QueueCounter(args.exact_below, args.step), random.Random(args.seed)
    claims = allowed = golds = 0
    posteriors: list[float] = []
    for _ in range(args.runs):
        gold, shown, may = run(counter, args.waiting, args.share, rng)
        claims, allowed, golds = claims + len(gold), allowed + may, golds + sum(gold)
        figures = [counter.text(args.waiting), *shown]  # figures[i]: what the reviewer saw before claim i
        last_change = -1
        for i, is_gold in enumerate(gold):
            if figures[i + 1] == figures[i]:
                continue
            window = gold[last_change + 1 : i]  # the claims between two changes of the figure
            assert not is_gold and not (window and window[-1]), "a change's claim or the one before it was gold"
            if window:  # the one before the change is known real: the others are the candidates
                posteriors += [sum(window) / max(len(window) - 1, 1)] * sum(window)
            last_change = i
    print(
        f"counter exact below {args.exact_below}, step {args.step}; {args.waiting} waiting, none arriving, "
        f"gold share {args.share}, {args.runs} runs (seed {args.seed})"
    )
    print(
        f"claims {claims}: where gold could come {allowed / claims:.1%}, gold {golds / claims:.1%} "
        f"(share x {golds / claims / args.share:.2f} of the offers)"
    )
    print(
        f"ideal observer's posterior on a gold claim: mean {statistics.fmean(posteriors):.3f}, "
        f"median {statistics.median(posteriors):.3f}, max {max(posteriors):.3f} (prior {args.share}, exact counter 1.0)"
    )


if __name__ == "__main__":
    main()
