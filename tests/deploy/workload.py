"""The drifting stream the end-to-end dashboard test produces: SEA whose concept switches (variant 0 -> 3)."""

from __future__ import annotations

import itertools

from river.datasets import synth


def sea_with_drift(n: int, change: int, seed: int = 1) -> list[tuple[dict[str, float], str]]:
    rows = itertools.chain(synth.SEA(variant=0, seed=seed).take(change), synth.SEA(variant=3, seed=seed + 1).take(n - change))
    return [({str(k): float(v) for k, v in x.items()}, str(y)) for x, y in rows]
