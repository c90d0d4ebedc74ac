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
BENCH_NOISE = 0.01
"""Label noise of the benchmarks' warm model. With 10 % the default contract (precision target 0.95) can
vouch for nothing and every record goes to review; with 1 % it routes ~79 % to labels, ~16 % to review and
~5 % to deferred (20,000 records, in process), the mix of a labeler doing its job."""
COLOURS = ("red", "green", "blue", "black")


def synthetic_records(
    n: int, seed: int = 0, prefix: str = "b", noise: float = 0.1
) -> Iterator[tuple[dict[str, Any], str]]:
    """(record payload, true label): a linear concept over the features, ``noise`` the share of flipped labels."""
    rng = random.Random(seed)
    weights = [rng.uniform(-1, 1) for _ in range(N_NUMERIC)]
    for i in range(n):
        features: dict[str, Any] = {f"f{j:02d}": round(rng.gauss(0, 1), 4) for j in range(N_NUMERIC)}
        colour = rng.choice(COLOURS)
        features["colour"] = colour
        score = sum(w * features[f"f{j:02d}"] for j, w in enumerate(weights)) + (0.8 if colour == "red" else 0.0)
        label = "pos" if score > 0 else "neg"
        if rng.random() < noise:
            label = "neg" if label == "pos" else "pos"
        yield {"id": f"{prefix}{i}", "features": features, "source": "bench"}, label


def warm_state(settings: Settings, n: int = 4000, seed: int = 99, version: int = 1, noise: float = 0.1) -> ModelState:
    """A model trained on ``n`` answered records, with the policy's evidence (so it auto-labels from the start)."""
    engine = build_engine(settings)
    for payload, label in synthetic_records(n, seed=seed, prefix="warm", noise=noise):
        prediction = engine.predict([payload["features"]])[0]
        engine.learn(payload["features"], label, Evidence(prediction, label, context=engine.policy.census_context()))
    engine.policy.recheck_version(engine.model)  # as the learner does before it publishes a version
    return ModelState(
        model=engine.model, featurizer=engine.featurizer, version=version, policy_state=engine.policy.learned_state()
    )
