"""The common record of a batch decoded into columns: no Record, no features dict, no float a feature kept.

Most of a stream's records share one layout: the same feature names, each a number or each a string, and
nothing else but ``id`` (and ``source``, ``timestamp``, ``schema_version`` 1). :class:`ColumnarDecoder`
learns that layout from a record the exact path decoded (:meth:`RecordDecoder.decode_plain_many`), then
decodes each value with a msgspec struct made for it (a field a feature, typed as the exact path types it,
unknown fields refused) and the router keeps that struct instead of a :class:`Record`. The struct accepts a
strict subset of what the exact path's struct accepts, with the same types (the same msgspec checks, names
checked once a layout), so a value it takes is one the exact path takes, to the same id, timestamp and
feature values; anything else (another layout, text, metadata, a string where a number was, null, a
boolean, a value past a limit, invalid JSON, an evolved record, a key that differs) goes the exact way.

:class:`ColumnarBatch` is the batch the engine gets: a ``Sequence[Record]`` whose common records are made
(by the exact decoder, from their bytes) only when asked for. The engine builds the compiled model's input
matrix from its columns (:meth:`ColumnarBatch.matrix`) and makes a :class:`LazyRouted` for a record not made:
its ``record`` is made when read (a review or deferred record's storage, a test), never for the auto-labels
the router encodes from the columns. tests/core/test_columnar.py holds the outcomes byte-identical to the
exact path's on mixed batches.

>>> from labelstream.core.decode import RecordDecoder
>>> decoder = RecordDecoder()
>>> columnar = ColumnarDecoder(decoder)
>>> columnar.learn(decoder.decode(b'{"id": "a", "features": {"x": 1, "c": "red"}}'))
True
>>> typed = columnar.decode_many([b'{"id": "b", "features": {"x": 2.5, "c": "blue"}}', b'{"id": "c", "features": {"x": "2"}}'], [None, None])
>>> typed[0].id, typed[1]
('b', None)
>>> batch = ColumnarBatch([typed[0]], [b'{"id": "b", "features": {"x": 2.5, "c": "blue"}}'], columnar)
>>> batch[0].features
{'x': 2.5, 'c': 'blue'}
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from itertools import repeat, starmap
from operator import attrgetter, itemgetter
from struct import Struct
from typing import Annotated, Any, Literal, Union

import msgspec
import numpy as np
from msgspec.structs import astuple

from labelstream.core.compiled_inputs import InputMatrix
from labelstream.core.constructor import slots_constructor
from labelstream.core.decode import _INT64, RecordDecoder, _names_fit
from labelstream.core.engine import Routed
from labelstream.core.schemas import Record

_MIN_SHARE = 0.5
"""A layout is learnt again from the exact path's records when fewer than this share of a batch took it."""


class _Layout:
    """One layout's struct decoder, and how its numbers and strings are read out of a decoded struct.

    The features struct lists the numeric fields first, then the categorical ones (a struct takes its fields
    in any order in the JSON; the order only sets that of ``msgspec.structs.astuple``), so that a record's
    values come out in one C call, and its numbers are packed as doubles by one ``struct`` call (``?`` bytes
    taking the strings' places): no attribute read or NumPy conversion a feature.
    """

    __slots__ = ("categorical", "decode", "dtype", "names", "numeric", "pack")

    def __init__(self, decoder: RecordDecoder, names: tuple[str, ...], kinds: list[type]) -> None:
        attribute = {name: f"f{i}" for i, name in enumerate(names)}  # any name, as a struct field (renamed)
        text = Annotated[str, msgspec.Meta(max_length=decoder.max_string_length)]
        number = Union[_INT64, float]  # noqa: UP007 - as the exact path's struct types a number
        self.names = names
        self.numeric = tuple(n for n, k in zip(names, kinds, strict=True) if k is not str)
        self.categorical = tuple(n for n, k in zip(names, kinds, strict=True) if k is str)
        typed = msgspec.defstruct(
            "ColumnarFeatures",
            [(attribute[n], number) for n in self.numeric] + [(attribute[n], text) for n in self.categorical],
            rename={attribute[n]: n for n in names}, forbid_unknown_fields=True, gc=False,
        )
        struct = msgspec.defstruct(
            "ColumnarRecord",
            [
                ("id", Annotated[str, msgspec.Meta(min_length=1, max_length=256)]),
                ("features", typed),
                ("schema_version", Literal[1], 1),
                ("source", Union[str, None], None),  # noqa: UP007
                ("timestamp", Union[_INT64, float, None], None),  # noqa: UP007
            ],
            forbid_unknown_fields=True, gc=False,
        )
        self.decode = msgspec.json.Decoder(struct).decode
        # a double a number (float() of an int, as the matrix's other ways convert it), a byte a string (ignored)
        self.pack = Struct(f"<{len(self.numeric)}d{len(self.categorical)}?").pack
        self.dtype = np.dtype([("numbers", "<f8", (len(self.numeric),)), ("texts", "u1", (len(self.categorical),))])


class ColumnarDecoder:
    """Decodes values of one learnt layout into typed structs (``None``: the exact path decides).

    ``decoder``: the exact path (its limits are the struct's; it makes a record asked for). A layout learnt
    is taken from the next :meth:`decode_many` on (a batch's structs are all of one layout).
    """

    def __init__(self, decoder: RecordDecoder) -> None:
        self.decoder = decoder
        self.layout: _Layout | None = None
        self._next: _Layout | None = None

    @property
    def names(self) -> tuple[str, ...] | None:
        """The feature names of the layout in use (``None``: none yet)."""
        return None if self.layout is None else self.layout.names

    def learn(self, record: Record) -> bool:
        """Take ``record``'s layout (its feature names and value types) when it can be decoded in columns."""
        features, decoder = record.features, self.decoder
        if record.text is not None or record.metadata or not 0 < len(features) <= decoder.max_features:
            return False
        if not _names_fit(features, decoder.max_feature_name_length):
            return False
        if any("=" in name or "#" in name for name in features):  # the input matrix's row way decides those
            return False
        kinds = [type(value) for value in features.values()]
        if not set(kinds) <= {int, float, str}:
            return False
        current = self._next or self.layout
        names = tuple(features)
        if current is None or current.names != names or current.categorical != tuple(
                n for n, k in zip(names, kinds, strict=True) if k is str):
            self._next = _Layout(decoder, names, kinds)
        return True

    def decode_many(self, values: Sequence[bytes | None], keys: Sequence[bytes | None]) -> list[Any]:
        """A struct for each value of the layout (within the size limit, its key ``None`` or its id), else ``None``.

        Mapped in C; a value the struct refuses ends the map, which goes on after it."""
        if self._next is not None:
            self.layout, self._next = self._next, None
        n = len(values)
        out: list[Any] = []
        if self.layout is None:
            return [None] * n
        decode, limit = self.layout.decode, self.decoder.max_record_bytes
        if None in values or max(map(len, values), default=0) > limit:
            sized = [value if value and len(value) <= limit else None for value in values]
        else:
            sized = values
        while len(out) < n:
            start = len(out)
            try:
                out.extend(map(decode, sized[start:]))
            except Exception:  # noqa: BLE001 - refused (or not bytes): the exact path decides
                out.append(None)
        if keys.count(None) != n:
            for i, (key, item) in enumerate(zip(keys, out, strict=True)):
                if key is not None and item is not None and key != item.id.encode():
                    out[i] = None
        return out

    def columns(self, items: Sequence[Any]) -> tuple[np.ndarray | None, list[list[str]]]:
        """The structs' numeric values (a row a struct, a column a ``numeric`` feature, as floats; ``None``: no
        numeric feature) and their categorical columns (a list of strings a ``categorical`` feature)."""
        layout = self.layout
        rows = list(map(astuple, map(_features_of, items)))  # a tuple a struct: numbers, then strings (C)
        values = None
        if layout.numeric:
            values = np.frombuffer(b"".join(starmap(layout.pack, rows)), dtype=layout.dtype)["numbers"]
        first = len(layout.numeric)
        return values, [list(map(itemgetter(first + j), rows)) for j in range(len(layout.categorical))]


class ColumnarBatch(Sequence[Record]):
    """A batch of records, some of them typed structs of :class:`ColumnarDecoder`: a Record made only when asked for.

    ``items``: a :class:`Record` or a struct a record; ``values``: their bytes (a struct's record is the exact
    decoder's of them); ``columnar``: the decoder of the structs.
    """

    __slots__ = ("_columnar", "_items", "_values")

    def __init__(self, items: list[Any], values: list[bytes], columnar: ColumnarDecoder) -> None:
        self._items = items
        self._values = values
        self._columnar = columnar

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Record:  # type: ignore[override] - no slices asked
        item = self._items[i]
        if type(item) is not Record:
            self.make([i])
            item = self._items[i]
        return item

    def make(self, at: Sequence[int]) -> None:
        """Make the records at positions ``at`` now (those not made yet), in one call of the exact path's C decode."""
        items, values, decoder = self._items, self._values, self._columnar.decoder
        todo = [i for i in at if type(items[i]) is not Record]
        if todo:  # the value took the layout's stricter struct: the C decode takes it (decode() has the last word)
            for i, record in zip(todo, decoder.decode_plain_many([values[i] for i in todo]), strict=True):
                items[i] = record or decoder.decode(values[i])

    def any_text(self) -> bool:
        """Whether a record has text (a struct has none)."""
        return any(item.text for item in self._items if type(item) is Record)

    def timestamps(self) -> list[float | None]:
        return [item.timestamp for item in self._items]

    def features(self) -> Sequence[Any]:
        """The records' feature mappings, each made when asked for (a struct's record made then)."""
        return _Features(self)

    def matrix(self, inputs: InputMatrix) -> np.ndarray:
        """The compiled model's input matrix: :meth:`InputMatrix.build` of the records' features, to the bit."""
        items, columnar = self._items, self._columnar
        typed = [i for i, item in enumerate(items) if type(item) is not Record]
        rest = [i for i, item in enumerate(items) if type(item) is Record]
        if rest:
            matrix = np.full((len(items), len(inputs.index)), math.nan)
            matrix[rest] = inputs.build([items[i].features for i in rest])
        else:
            matrix = None
        values, texts = columnar.columns([items[i] for i in typed] if rest else items)
        return inputs.fill(matrix, len(items), typed if rest else None, columnar.layout.numeric, values,
                           columnar.layout.categorical, texts)

    def routed(self, predictions: Sequence[Any], decisions: Sequence[Any], votes: Sequence[Any]) -> list[Routed]:
        """A :class:`Routed` a record made, a :class:`LazyRouted` a struct."""
        make, lazy = _make_routed, LazyRouted.make
        if Record not in map(type, self._items):  # the common batch, every record a struct: made by maps in C
            return LazyRouted.make_many(self, predictions, decisions, votes)
        return [make(item, p, d, v) if type(item) is Record else lazy(self, i, p, d, v)
                for i, (item, p, d, v) in enumerate(zip(self._items, predictions, decisions, votes, strict=True))]


class _Features(Sequence[Any]):
    __slots__ = ("_batch",)

    def __init__(self, batch: ColumnarBatch) -> None:
        self._batch = batch

    def __len__(self) -> int:
        return len(self._batch)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        return self._batch[i].features


class LazyRouted(Routed):
    """A :class:`Routed` whose record is made (by the exact decoder) when first read."""

    __slots__ = ("_at", "_batch")

    @classmethod
    def make(cls, batch: ColumnarBatch, at: int, prediction: Any, decision: Any, votes: Any) -> LazyRouted:
        routed = _new(cls)
        _set_prediction(routed, prediction)
        _set_decision(routed, decision)
        _set_votes(routed, votes)
        _set_batch(routed, batch)
        _set_at(routed, at)
        return routed

    @classmethod
    def make_many(cls, batch: ColumnarBatch, predictions: Sequence[Any], decisions: Sequence[Any],
                  votes: Sequence[Any]) -> list[LazyRouted]:
        """:meth:`make` of every record of ``batch`` (at 0, 1, ...), the instances made first and then each field
        set for all of them by a map in C: no Python call a record."""
        made = list(map(_new, repeat(cls, len(predictions))))
        for setter, column in ((_set_prediction, predictions), (_set_decision, decisions), (_set_votes, votes),
                               (_set_batch, repeat(batch)), (_set_at, range(len(predictions)))):
            _drain(map(setter, made, column))
        return made

    @property
    def record(self) -> Record:  # type: ignore[override]
        return self._batch[self._at]


_features_of = attrgetter("features")
_make_routed = slots_constructor(Routed)
_new = object.__new__
_drain = deque(maxlen=0).extend  # runs an iterator to its end, keeping nothing
_set_prediction = Routed.__dict__["prediction"].__set__
_set_decision = Routed.__dict__["decision"].__set__
_set_votes = Routed.__dict__["votes"].__set__
_set_batch = LazyRouted.__dict__["_batch"].__set__
_set_at = LazyRouted.__dict__["_at"].__set__
