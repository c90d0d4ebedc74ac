"""The compiled model's input matrix built from records' features, column by column: no model-input dict a record.

The per-record way is ``Featurizer.transform_one`` (a dict a record: ``{"x": 2.0, "colour=red": 1.0}``)
then :func:`~labelstream.core.compiled.feature_matrix` (a row a dict). :class:`InputMatrix` builds the
same matrix from the features themselves. Records with the same fields in the same order (the common
case: a producer's records share their fields) form a group; a group's numeric values are read with one
C ``itemgetter`` call a record and converted by NumPy in one call, a column scattered at a time; its
categorical values are looked up (a ``map`` over the group, in C) in a cache of the columns they are known to
map to (the featurizer's encoding, one-hot ``name=value`` or hashed ``name#bucket``). Whatever this cannot take exactly a group
at a time goes the per-record way, row by row with the featurizer's rules: a value of another type than
in the group's first record (a number where it had a string, ``None``, booleans only, an integer past 64
bits, ...), a field name holding ``=`` or ``#`` (such a column could coincide with an indicator; the
per-record way keeps which value wins), a batch whose records vary in their fields (a group of one is
slower than a row). The numbers are those of the per-record way in every case (tests compare them).

>>> import numpy as np
>>> from labelstream.core.compiled import feature_matrix
>>> from labelstream.core.featurizer import Featurizer
>>> index = {"colour=red": 0, "x": 1, "y": 2}
>>> batch = [{"x": 1, "y": 2.5, "colour": "red"}, {"x": -1, "y": 0.5, "colour": "blue"}]
>>> InputMatrix(index).build(batch).tolist()
[[1.0, 1.0, 2.5], [nan, -1.0, 0.5]]
>>> bool(np.array_equal(InputMatrix(index).build(batch), feature_matrix(index, Featurizer().transform_many(batch)), equal_nan=True))
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from labelstream.core.featurizer import Encoding, category_key

_MAX_CACHED_VALUES = 65_536
"""Categorical values whose column is cached, over all features (hashed values are unbounded in number)."""
_MAX_LAYOUTS = 1024
"""Field layouts remembered; the cache starts over beyond (a stream whose records all differ)."""
_MIN_GROUP = 8
"""A batch is built group by group when its records average at least this many a group, else row by row."""


class _Layout:
    """How a group's records (same fields, same order, the first record's value types) fill the matrix."""

    __slots__ = ("categorical", "columns", "getter", "kept", "single", "width")

    def __init__(self, index: Mapping[str, int], names: tuple[str, ...], first: Mapping[str, Any]) -> None:
        numeric = [name for name in names if type(first[name]) is not str]
        self.categorical = [name for name in names if type(first[name]) is str]
        known = [(i, index[name]) for i, name in enumerate(numeric) if name in index]
        self.getter = itemgetter(*numeric) if numeric else None
        self.single = len(numeric) == 1  # itemgetter of one name gives the value, not a tuple
        self.kept = np.array([i for i, _ in known], dtype=np.intp)  # positions among the numeric values
        self.columns = np.array([column for _, column in known], dtype=np.intp)
        self.width = len(numeric)

    def shape(self, n: int) -> tuple[int, ...]:
        """The shape of ``n`` records' numeric values read by :attr:`getter`, one number each."""
        return (n,) if self.single else (n, self.width)


class InputMatrix:
    """Builds the matrix of :func:`~labelstream.core.compiled.feature_matrix` straight from feature mappings.

    ``index``: column of each model input name (the compiled model's); ``encoding`` and ``hash_buckets``:
    the featurizer's. One instance a compiled model: it caches the columns of categorical values.
    """

    def __init__(self, index: Mapping[str, int], encoding: Encoding = "one_hot", hash_buckets: int = 1024) -> None:
        self.index = index
        self.encoding = encoding
        self.hash_buckets = hash_buckets
        self._layouts: dict[tuple[tuple[str, ...], tuple[bool, ...]], _Layout | None] = {}
        self._categories: dict[str, dict[str, int]] = {}
        self._cached = 0

    def build(self, batch: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """One row per mapping, a column per known input, NaN where absent (missing values as the featurizer's)."""
        n, width = len(batch), len(self.index)
        matrix = np.full((n, width), math.nan)
        keys = list(map(tuple, batch))
        if n and keys.count(keys[0]) == n:  # the common case, all alike: no Python loop a record
            groups: dict[tuple[str, ...], list[int]] = {keys[0]: list(range(n))}
        else:
            groups = {}
            for i, names in enumerate(keys):
                rows = groups.get(names)
                if rows is None:
                    groups[names] = [i]
                else:
                    rows.append(i)
        if len(groups) * _MIN_GROUP > n:
            return np.array([self._row(features) for features in batch], dtype=float).reshape(n, width)
        for names, rows in groups.items():
            members = [batch[i] for i in rows]
            if not self._fill_group(matrix, names, rows, members):
                for i, features in zip(rows, members, strict=True):
                    matrix[i] = self._row(features)
        return matrix

    def fill(
        self, matrix: np.ndarray | None, n: int, rows: Sequence[int] | None, numeric: Sequence[str],
        values: np.ndarray | None, categorical: Sequence[str], texts: Sequence[list[str]],
    ) -> np.ndarray:
        """:meth:`build`'s rows of records of one layout given in columns (:mod:`labelstream.core.columnar`).

        ``matrix``: the batch's matrix with its other rows built (``None``: a new one of ``n`` rows, NaN);
        ``rows``: the rows filled (``None``: all ``n``); ``values``: the ``numeric`` features' values as floats, a row a
        record and a column a feature (each ``float()`` of the int or float decoded; ``None`` when no feature is
        numeric); ``texts``: a column of strings a ``categorical`` feature. No name holds ``=`` or ``#``. The numbers
        :meth:`build` gives those records, to the bit.
        """
        if matrix is None:
            matrix = np.full((n, len(self.index)), math.nan)
        at = np.arange(n, dtype=np.intp) if rows is None else np.array(rows, dtype=np.intp)
        if not len(at):
            return matrix
        if numeric:
            known = [(i, self.index[name]) for i, name in enumerate(numeric) if name in self.index]
            if known:
                if len(known) < len(numeric):
                    values = values[:, [i for i, _ in known]]
                columns = np.array([column for _, column in known], dtype=np.intp)
                if rows is None:  # every row: a block of columns, no row index
                    matrix[:, columns] = values
                else:
                    matrix[at[:, None], columns] = values
        for name, column_texts in zip(categorical, texts, strict=True):
            columns = list(map(self._categories.get(name, {}).get, column_texts))
            if None in columns:
                columns = [self._column_of(name, text) if column is None else column
                           for text, column in zip(column_texts, columns, strict=True)]
                hits = [(i, column) for i, column in zip(at.tolist(), columns, strict=True) if column is not None]
                matrix[[i for i, _ in hits], [column for _, column in hits]] = 1.0
            else:
                matrix[at, columns] = 1.0
        return matrix

    def _fill_group(self, matrix: np.ndarray, names: tuple[str, ...], rows: list[int], members: list) -> bool:
        """Fill a group's rows a column at a time; ``False`` when they must go row by row (each then rewritten whole)."""
        layout = self._layout(names, members[0])
        if layout is None:
            return False
        at = np.array(rows, dtype=np.intp)
        if layout.getter is not None:
            values = np.array(list(map(layout.getter, members)))
            if values.dtype.kind not in "fi" or values.shape != layout.shape(len(rows)):
                return False  # a string, None, a big integer, booleans only, a sequence: the row way decides
            if layout.columns.size:
                values = values.reshape(len(rows), 1) if layout.single else values
                matrix[at[:, None], layout.columns] = values[:, layout.kept]
        for name in layout.categorical:
            texts = list(map(itemgetter(name), members))
            if set(map(type, texts)) != {str}:
                return False
            columns = list(map(self._categories.get(name, {}).get, texts))  # the cached columns, in C
            if None in columns:  # a value not cached yet, or one the model does not know
                columns = [self._column_of(name, text) if column is None else column
                           for text, column in zip(texts, columns, strict=True)]
                hits = [(i, column) for i, column in zip(rows, columns, strict=True) if column is not None]
                matrix[[i for i, _ in hits], [column for _, column in hits]] = 1.0
            else:
                matrix[at, columns] = 1.0
        return True

    def _layout(self, names: tuple[str, ...], first: Mapping[str, Any]) -> _Layout | None:
        """The group's layout (``None``: row by row, for a field name holding ``=`` or ``#``)."""
        key = (names, tuple(type(first[name]) is str for name in names))
        layout = self._layouts.get(key, False)
        if layout is False:
            if len(self._layouts) >= _MAX_LAYOUTS:
                self._layouts.clear()
            plain = not any("=" in name or "#" in name for name in names)
            layout = self._layouts[key] = _Layout(self.index, names, first) if plain else None
        return layout

    def _column_of(self, name: str, value: str) -> int | None:
        """The column of a categorical value's indicator (``None``: the model does not know it)."""
        known = self._categories.get(name)
        if known is not None:
            column = known.get(value)
            if column is not None:
                return column
        column = self.index.get(category_key(name, value, self.encoding == "hashed", self.hash_buckets))
        if column is not None and self._cached < _MAX_CACHED_VALUES:
            self._categories.setdefault(name, {})[value] = column
            self._cached += 1
        return column

    def _row(self, features: Mapping[str, Any]) -> list[float]:
        """One row the per-record way: ``Featurizer.transform_one``'s rules, a later value winning a column."""
        values = [math.nan] * len(self.index)
        index = self.index
        for name, value in features.items():
            if type(value) is str:
                column = self._column_of(name, value)
                if column is not None:
                    values[column] = 1.0
            elif value is not None:
                number = float(value)  # raises as the featurizer does on a value that is not a number
                column = index.get(name)
                if column is not None:
                    values[column] = number
        return values
