"""Featurizer: a record's features -> the flat numeric dict a river model takes.

Numbers pass through as floats; a string (categorical) value becomes a
one-hot indicator ``"name=value": 1.0``, or with ``categorical_encoding=
"hashed"`` an indicator in one of ``hash_buckets`` stable buckets per feature
(bounded width for high-cardinality features). Text is not featurized yet.

>>> featurizer = Featurizer()
>>> featurizer.transform_one({"x": 2, "colour": "red"})
{'x': 2.0, 'colour=red': 1.0}
>>> Featurizer("hashed", hash_buckets=8).transform_one({"colour": "red"})
{'colour#7': 1.0}
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Literal

Encoding = Literal["one_hot", "hashed"]


class Featurizer:
    """Turns feature mappings (name -> number or string) into model inputs."""

    def __init__(self, categorical_encoding: Encoding = "one_hot", hash_buckets: int = 1024) -> None:
        if categorical_encoding not in ("one_hot", "hashed"):
            raise ValueError(f"unknown categorical_encoding {categorical_encoding!r} (one_hot or hashed)")
        self.categorical_encoding = categorical_encoding
        self.hash_buckets = hash_buckets

    def transform_one(self, features: Mapping[str, float | int | str]) -> dict[str, float]:
        """One record's model input."""
        x: dict[str, float] = {}
        hashed = self.categorical_encoding == "hashed"
        for name, value in features.items():
            if type(value) is str:
                if hashed:
                    bucket = zlib.crc32(value.encode()) % self.hash_buckets
                    x[f"{name}#{bucket}"] = 1.0
                else:
                    x[f"{name}={value}"] = 1.0
            else:
                x[name] = float(value)
        return x

    def transform_many(self, batch: Iterable[Mapping[str, float | int | str]]) -> list[dict[str, float]]:
        """Model inputs for a batch, in order."""
        return [self.transform_one(features) for features in batch]
