"""A synthetic but realistic workload: records with 20 numeric features and a categorical, and a warm model.

>>> records = list(synthetic_records(3, seed=1))
>>> sorted(records[0][0]["features"])[:3], records[0][1] in ("neg", "pos")
(['colour', 'f00', 'f01'], True)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from labelstream.core.build import build_engine
from labelstream.core.policy import Evidence
from labelstream.core.snapshot import ModelState
from labelstream.settings import Settings

N_NUMERIC = 20
COLOURS = ("red", "green", "blue", "black")


def synthetic_records(n: int, seed: int = 0, prefix: str = "b") -> Iterator[tuple[dict[str, Any], str]]:
    """(record payload, true label): a linear concept over the features, 10 % label noise."""
    rng = random.Random(seed)
    weights = [rng.uniform(-1, 1) for _ in range(N_NUMERIC)]
    for i in range(n):
        features: dict[str, Any] = {f"f{j:02d}": round(rng.gauss(0, 1), 4) for j in range(N_NUMERIC)}
        colour = rng.choice(COLOURS)
        features["colour"] = colour
        score = sum(w * features[f"f{j:02d}"] for j, w in enumerate(weights)) + (0.8 if colour == "red" else 0.0)
        label = "pos" if score > 0 else "neg"
        if rng.random() < 0.1:
            label = "neg" if label == "pos" else "pos"
        yield {"id": f"{prefix}{i}", "features": features, "source": "bench"}, label


def warm_state(settings: Settings, n: int = 4000, seed: int = 99, version: int = 1) -> ModelState:
    """A model trained on ``n`` answered records, with the policy's evidence (so it auto-labels from the start)."""
    engine = build_engine(settings)
    for payload, label in synthetic_records(n, seed=seed, prefix="warm"):
        prediction = engine.predict([payload["features"]])[0]
        engine.learn(payload["features"], label, Evidence(prediction, label, context=engine.policy.census_context()))
    return ModelState(
        model=engine.model, featurizer=engine.featurizer, version=version, policy_state=engine.policy.learned_state()
    )
