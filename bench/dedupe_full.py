"""In-process cost of ``DedupeWindow.check`` a record: a window filling vs a full one (as ``bench hot-path`` times it).

A window still filling never evicts (``bench hot-path`` timed that until it filled the window first: 15 batches of
500 new ids in an empty 100,000-id window). Live, the window is full after its first ``size`` records and every
new id evicts the oldest (``_remove``: find it, shift back the entries after it). Rounds alternate the states;
fresh id strings each batch (their hash not cached, as decoded ones). ``--old FILE`` also times a previous
``core/dedupe.py`` on the same full window, alternating with this tree's, and prints the ratio within each round.

    .venv/bin/python bench/dedupe_full.py [--size 100000] [--rounds 10] [--old /path/to/old/dedupe.py]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import time
import uuid
from typing import Any

from labelstream.core.dedupe import DedupeWindow

BATCH = 2000


def fresh_ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def full_window(cls: Any, size: int) -> Any:
    window = cls(size)
    for offset, record_id in enumerate(fresh_ids(size + BATCH)):
        window.check(record_id, ("records", 1, offset))
    return window


def us_a_check(window: Any, ids: list[str]) -> float:
    started = time.perf_counter()
    for offset, record_id in enumerate(ids):
        window.check(record_id, ("records", 0, offset))
    return (time.perf_counter() - started) / len(ids) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--old", help="a previous core/dedupe.py to time on the full window against this tree's")
    args = parser.parse_args()
    kinds: dict[str, Any] = {"full": full_window(DedupeWindow, args.size)}
    if args.old:
        spec = importlib.util.spec_from_file_location("old_dedupe", args.old)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        kinds["full, --old"] = full_window(module.DedupeWindow, args.size)
    gc.freeze()
    costs: dict[str, list[float]] = {"filling (hot-path's state)": [], **{kind: [] for kind in kinds}}
    for round_ in range(args.rounds):
        filling = DedupeWindow(args.size)  # as bench hot-path: 15 batches of 500 into an empty window
        costs["filling (hot-path's state)"].append(
            statistics.median(us_a_check(filling, fresh_ids(500)) for _ in range(15))
        )
        ids = fresh_ids(BATCH)
        order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
        for kind in order:
            costs[kind].append(us_a_check(kinds[kind], [s.encode().decode() for s in ids]))
    for kind, values in costs.items():
        print(
            f"{kind}: median {statistics.median(values):.2f} us a check, rounds " + " ".join(f"{v:.2f}" for v in values)
        )
    if args.old:
        ratios = [new / old for new, old in zip(costs["full"], costs["full, --old"], strict=True)]
        print(
            f"this tree / --old within a round: median {statistics.median(ratios):.3f}, lower in "
            f"{sum(r < 1 for r in ratios)} of {len(ratios)}"
        )


if __name__ == "__main__":
    main()
