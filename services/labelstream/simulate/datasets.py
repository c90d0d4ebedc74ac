"""Labeled streams that ship inside river (no download), and writing them to CSV or JSONL.

Real: ``phishing``, ``bananas``, ``image_segments``. Synthetic (seeded):
``sea``, ``agrawal``, ``hyperplane``, and ``sea_drift`` / ``agrawal_drift``,
which switch concept abruptly halfway; ``tickets``, support messages with a
``text`` column (:mod:`labelstream.simulate.text_data`). (river's ``ConceptDriftStream``
computes ``exp(-4 (t - position) / width)``, which overflows for a width
below ``position / 177``; an abrupt switch is simply one generator followed by
another.) Labels are written as strings.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "sea.csv"
>>> export_dataset("sea_drift", path, size=4, seed=1)
4
>>> print(path.read_text().splitlines()[0])
id,0,1,2,label
>>> DATASETS["sea_drift"].drift_at(size=10_000)
5000
"""

from __future__ import annotations

import csv
import importlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from labelstream.datafile import detect_format
from labelstream.errors import InputFileError
from labelstream.simulate.imbalanced_data import rare_classes
from labelstream.simulate.text_data import tickets

Stream = Iterator[tuple[dict[str, Any], Any]]


@dataclass(frozen=True)
class DatasetSpec:
    """A named stream: how to generate it, its natural size, and the model that suits it."""

    name: str
    description: str
    make: Callable[[int, int], Stream]
    size: int
    model: str = "logistic"
    drifts: bool = False
    text_column: str | None = None
    """The column holding the record's text (``simulate --text-column``), if any."""

    def drift_at(self, size: int | None = None) -> int | None:
        """Index of the first record of the new concept (``None`` for a stream without drift)."""
        return (size or self.size) // 2 if self.drifts else None


# river (with numpy and scipy, ~1-2 s of imports) loads only when a stream is made: listing the
# datasets (``labelstream datasets list``) needs their specs alone.


def _river(module: str, name: str) -> Callable[..., Any]:
    """``river.<module>.<name>``, imported on first use."""
    return getattr(importlib.import_module(f"river.{module}"), name)


def _real(name: str) -> Callable[[int, int], Stream]:
    return lambda size, seed: itertools.islice(iter(_river("datasets", name)()), size)


def _synth(name: str, **params: Any) -> Callable[[int], Any]:
    """A seeded river synthetic generator: ``seed -> river.datasets.synth.<name>(seed=seed, **params)``."""
    return lambda seed: _river("datasets.synth", name)(seed=seed, **params)


def _abrupt(before: Callable[[int], Any], after: Callable[[int], Any]) -> Callable[[int, int], Stream]:
    def make(size: int, seed: int) -> Stream:
        half = size // 2
        return itertools.chain(before(seed).take(half), after(seed + 1).take(size - half))

    return make


def _stationary(generator: Callable[[int], Any]) -> Callable[[int, int], Stream]:
    return lambda size, seed: iter(generator(seed).take(size))


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("phishing", "river Phishing: 1,250 web pages, phishing or not", _real("Phishing"), 1250),
        DatasetSpec(
            "bananas", "river Bananas: 5,300 2-d points, two banana-shaped classes", _real("Bananas"), 5300, "arf",
        ),
        DatasetSpec(
            "image_segments", "river ImageSegments: 2,310 image regions, 7 classes", _real("ImageSegments"), 2310,
        ),
        DatasetSpec("sea", "SEA variant 0 (x1 + x2 <= 8)", _stationary(_synth("SEA", variant=0)), 10_000),
        DatasetSpec(
            "sea_drift", "SEA, variant 0 then 3 (threshold 8 -> 9.5) halfway",
            _abrupt(_synth("SEA", variant=0), _synth("SEA", variant=3)), 10_000,
            drifts=True,
        ),
        DatasetSpec(
            "agrawal", "Agrawal loan function 0", _stationary(_synth("Agrawal", classification_function=0)),
            10_000, "hoeffding_adaptive_tree",
        ),
        DatasetSpec(
            "agrawal_drift", "Agrawal, loan function 0 then 2 halfway",
            _abrupt(_synth("Agrawal", classification_function=0), _synth("Agrawal", classification_function=2)),
            10_000, "hoeffding_adaptive_tree", drifts=True,
        ),
        DatasetSpec(
            "hyperplane", "rotating-free hyperplane, 10 features, 5% label noise",
            _stationary(_synth("Hyperplane", n_features=10)), 10_000,
        ),
        DatasetSpec(
            # made by labelstream.simulate.imbalanced_data; a description's words fit the list's column at 80 columns
            "rare_classes", "three classes of 90 %, 8 % and 2 %, numeric and categorical features, seeded",
            rare_classes, 10_000,
        ),
        DatasetSpec(
            "tickets", "support messages (text), 4 classes, seeded",  # made by labelstream.simulate.text_data
            tickets, 3000, text_column="text",
        ),
    )
}


def dataset(name: str) -> DatasetSpec:
    """The spec named ``name``; :class:`InputFileError` listing the names otherwise."""
    if name not in DATASETS:
        raise InputFileError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def rows(name: str, size: int | None = None, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Flat rows ``{"id", <features>, "label"}`` of a dataset, labels as strings."""
    spec = dataset(name)
    for i, (x, y) in enumerate(spec.make(size or spec.size, seed)):
        yield {"id": f"{name}-{i}", **{str(k): v for k, v in x.items()}, "label": str(y)}


def export_dataset(name: str, path: str | Path, size: int | None = None, seed: int = 0) -> int:
    """Write a dataset to ``path`` (``.csv`` or ``.jsonl``); the number of rows written."""
    path = Path(path)
    fmt = detect_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="") as handle:
        writer = None
        for row in rows(name, size, seed):
            if fmt == "jsonl":
                handle.write(orjson.dumps(row).decode() + "\n")
            else:
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
            count += 1
    return count
