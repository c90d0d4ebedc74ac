"""``rare_classes``: a seeded stream with three classes of very different sizes (90 %, 8 %, 2 %).

Each record has four numeric features drawn around its class's centre (unit
Gaussian noise: the classes overlap) and a categorical ``channel`` that leans
towards one channel per class (60 %), so a model that sees categorical
features does better. For the class-imbalance rows of ``bench quality``.

>>> rows = list(rare_classes(2000, seed=1))
>>> from collections import Counter
>>> sorted(Counter(label for _, label in rows).items())
[('common', 1813), ('rare', 37), ('uncommon', 150)]
>>> sorted(rows[0][0])
['channel', 'x1', 'x2', 'x3', 'x4']
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

CLASSES = (("common", 0.90, (0.0, 0.0, 0.0, 0.0), "web"), ("uncommon", 0.08, (2.0, 1.0, 0.0, 1.0), "mail"),
           ("rare", 0.02, (0.0, 2.0, 2.0, -1.0), "phone"))
CHANNELS = ("web", "mail", "phone", "shop")


def rare_classes(size: int, seed: int) -> Iterator[tuple[dict[str, Any], str]]:
    """``size`` records ``(features, label)``, drawn with ``seed``."""
    rng = random.Random(seed)
    names, weights = [c[0] for c in CLASSES], [c[1] for c in CLASSES]
    spec = {c[0]: c for c in CLASSES}
    for _ in range(size):
        label = rng.choices(names, weights)[0]
        _, _, centre, channel = spec[label]
        features: dict[str, Any] = {f"x{i + 1}": round(rng.gauss(mu, 1.0), 4) for i, mu in enumerate(centre)}
        features["channel"] = channel if rng.random() < 0.6 else rng.choice(CHANNELS)
        yield features, label
