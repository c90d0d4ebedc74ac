"""Featurizer: a record's features -> the flat numeric dict a river model takes.

Numbers pass through as floats; a string (categorical) value becomes a
one-hot indicator ``"name=value": 1.0``, or with ``categorical_encoding=
"hashed"`` an indicator in one of ``hash_buckets`` stable buckets per feature
(bounded width for high-cardinality features). A record's ``text`` goes
through the ``text`` featurizer (:mod:`labelstream.core.text`) when there is
one: :meth:`Featurizer.transform_records` adds its columns.

**Missing values**: a feature that is absent, ``None`` or not a finite number
(NaN, an infinity) is *missing*: it contributes nothing to a score and is
not learned, the same in every path. ``None`` is left out here; a
non-finite number is left out by the model (:class:`~labelstream.core.model.OnlineModel`
on river's paths, :mod:`labelstream.core.compiled` in its matrix), where it
costs nothing on the labeler's compiled path. Before, river gave NaN
probabilities for a NaN and raised on ``None`` while the compiled path
treated both as absent, and one NaN learned made the scaler's mean NaN for
good. Records read from Kafka never carry them (the schema dead-letters
``null`` and non-finite features: ``wrong_type``, ``not_finite``; an empty
CSV cell is an absent feature); feature mappings given to the engine in
Python may.

>>> featurizer = Featurizer()
>>> featurizer.transform_one({"x": 2, "colour": "red"})
{'x': 2.0, 'colour=red': 1.0}
>>> Featurizer("hashed", hash_buckets=8).transform_one({"colour": "red"})
{'colour#7': 1.0}
>>> featurizer.transform_one({"x": None, "w": 1})  # missing
{'w': 1.0}
>>> from labelstream.core.schemas import Record
>>> from labelstream.core.text import TfidfText
>>> with_text = Featurizer(text=TfidfText(buckets=8, ngram_max=1))
>>> with_text.learn_record(Record(id="a", features={}, text="hello world"))
>>> with_text.transform_records([Record(id="b", features={"x": 1}, text="hello")])
[{'x': 1.0, 'text#6': 1.0}]
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, overload

if TYPE_CHECKING:
    from labelstream.core.schemas import Record
    from labelstream.core.text import TextFeaturizer

Encoding = Literal["one_hot", "hashed"]



def category_key(name: str, value: str, hashed: bool, hash_buckets: int) -> str:
    """The model-input key of a categorical value: its one-hot indicator ``name=value``, or with
    ``hashed`` its bucket ``name#k`` (crc32, stable across processes).

    >>> category_key("colour", "red", False, 8), category_key("colour", "red", True, 8)
    ('colour=red', 'colour#7')
    """
    if hashed:
        return f"{name}#{zlib.crc32(value.encode()) % hash_buckets}"
    return f"{name}={value}"

class Featurizer:
    """Turns feature mappings (name -> number or string), and records' text, into model inputs."""

    text: TextFeaturizer | None = None  # class default: featurizers pickled before text existed load without one

    def __init__(
        self, categorical_encoding: Encoding = "one_hot", hash_buckets: int = 1024, text: TextFeaturizer | None = None
    ) -> None:
        if categorical_encoding not in ("one_hot", "hashed"):
            raise ValueError(f"unknown categorical_encoding {categorical_encoding!r} (one_hot or hashed)")
        self.categorical_encoding = categorical_encoding
        self.hash_buckets = hash_buckets
        self.text = text

    def transform_one(self, features: Mapping[str, float | int | str | None]) -> dict[str, float]:
        """One record's model input (``None`` left out: see the module docstring)."""
        x: dict[str, float] = {}
        hashed = self.categorical_encoding == "hashed"
        try:
            for name, value in features.items():
                if type(value) is str:
                    x[category_key(name, value, hashed, self.hash_buckets)] = 1.0
                else:
                    x[name] = float(value)
        except TypeError:
            if not any(value is None for value in features.values()):
                raise
            return self.transform_one({name: value for name, value in features.items() if value is not None})
        return x

    def transform_many(self, batch: Iterable[Mapping[str, float | int | str]]) -> list[dict[str, float]]:
        """Model inputs for a batch, in order."""
        return [self.transform_one(features) for features in batch]

    def transform_records(self, records: Sequence[Record]) -> list[dict[str, float]]:
        """Model inputs of a batch of records: features, plus the text featurizer's columns for those with text."""
        xs = self.transform_many([record.features for record in records])
        text = self.text
        if text is None:
            return xs
        with_text = [i for i, record in enumerate(records) if record.text]
        if with_text:
            for i, columns in zip(with_text, text.transform_many([records[i].text for i in with_text]), strict=True):
                xs[i].update(columns)
        return xs

    def learn_record(self, record: Record) -> None:
        """Let the text featurizer learn from a record the model learns (TF-IDF's document frequencies)."""
        if self.text is not None and record.text:
            self.text.learn_one(record.text)


class LazyInputs(Sequence[dict[str, float]]):
    """The model inputs of a batch of feature mappings, each made when first asked for (``transform_one``).

    For a batch predicted from its features directly (:mod:`labelstream.core.compiled_inputs`): the
    policy asks for an input only on the routes that use one (a review strategy's own model, a committee).

    >>> inputs = LazyInputs(Featurizer(), [{"x": 1}, {"colour": "red"}])
    >>> len(inputs), inputs[1], list(inputs)
    (2, {'colour=red': 1.0}, [{'x': 1.0}, {'colour=red': 1.0}])
    """

    __slots__ = ("_batch", "_featurizer", "_made")

    def __init__(self, featurizer: Featurizer, batch: Sequence[Mapping[str, float | int | str | None]]) -> None:
        self._featurizer = featurizer
        self._batch = batch
        self._made: dict[int, dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._batch)

    @overload
    def __getitem__(self, i: int) -> dict[str, float]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, float]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, float] | list[dict[str, float]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._batch)))]
        features = self._batch[i]  # IndexError past the end (iteration stops there)
        i %= len(self._batch)
        x = self._made.get(i)
        if x is None:
            x = self._made[i] = self._featurizer.transform_one(features)
        return x
