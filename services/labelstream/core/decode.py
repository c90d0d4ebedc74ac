"""Record decoding: raw message bytes -> :class:`Record`, or a clear reason why not.

Never raises on bad input: every failure is a :class:`DecodeError` with a
short ``kind`` (for metrics and the DLQ) and a readable ``message``.

>>> decoder = RecordDecoder()
>>> decoder.decode(b'{"id": "a", "features": {"x": 1}}').id
'a'
>>> error = decoder.decode(b'{"id": "a", "features": {"x": NaN}}')
>>> error.kind, error.message
('not_finite', 'features.x: is not finite (nan)')
>>> decoder.decode(b'').kind
'empty'

Producers may add fields and bump the minor version (docs/schema-evolution.md):

>>> decoder.decode(b'{"schema_version": "1.3", "id": "a", "features": {"x": 1}, "shop": "s1"}').metadata
{'shop': 's1'}
>>> decoder.decode(b'{"schema_version": 2, "id": "a", "features": {"x": 1}}').kind
'unsupported_schema_version'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Union

import msgspec
from pydantic import BaseModel, ValidationError

from labelstream.core.schemas import (
    RECORD_FIELDS,
    Correction,
    Record,
    UnknownFields,
    metadata_from_unknown,
    record_schema_version,
)
from labelstream.settings import LimitSettings


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why a message is not a valid record."""

    kind: str
    message: str


_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63) + 1, le=2**63 - 1)]
_FIELDS_SET = frozenset({"id", "features"})
_MAX_NAME_SETS = 1024
"""Sets of feature names whose check :meth:`RecordDecoder.decode_plain_many` remembers (then it starts over)."""


def _plain_record_type(limits: RecordDecoder, check_names: bool = True) -> type[msgspec.Struct]:
    """A msgspec struct that accepts a strict subset of what Record (with these limits) accepts.

    ``check_names=False``: feature names of any length, checked afterwards (:func:`_names_fit`).
    """
    name = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.max_feature_name_length)] if check_names else str
    value = Union[_INT64, float, Annotated[str, msgspec.Meta(max_length=limits.max_string_length)]]  # noqa: UP007
    return msgspec.defstruct(
        "PlainRecord",
        [
            ("id", Annotated[str, msgspec.Meta(min_length=1, max_length=256)]),
            ("features", Annotated[dict[name, value], msgspec.Meta(min_length=1, max_length=limits.max_features)]),
            ("schema_version", Literal[1], 1),
            ("text", Union[Annotated[str, msgspec.Meta(max_length=limits.max_text_length)], None], None),  # noqa: UP007
            ("source", Union[str, None], None),  # noqa: UP007
            ("timestamp", Union[_INT64, float, None], None),  # noqa: UP007
            ("metadata", dict[str, Union[_INT64, float, bool, str, None]], msgspec.field(default_factory=dict)),  # noqa: UP007
        ],
        forbid_unknown_fields=True,
    )


def _unchecked_record(
    record_id: str, features: dict, text: str | None, source: str | None, timestamp: float | None,
    metadata: dict | None = None,
) -> Record:
    """A Record from values already checked, without validation.

    What ``Record.model_construct`` does, at 0.6 us instead of 15 us (pydantic
    2.14): BaseModel's slots set through their descriptors (``object.__setattr__``
    by name: 1.0 us); a test checks it equals the validated Record.
    """
    record = _new_record(Record)
    _set_dict(record, {
        "schema_version": 1, "id": record_id, "features": features, "text": text,
        "source": source, "timestamp": timestamp, "metadata": metadata or {},
    })
    _set_fields_set(record, {"id", "features", "metadata"} if metadata else {"id", "features"})
    _set_extra(record, None)
    _set_private(record, None)
    return record


def _names_fit(features: dict, longest: int) -> bool:
    """Whether every feature name has 1 to ``longest`` characters: their total length within ``longest`` (one
    pass in C, the common case) and no empty name, else the longest and the shortest."""
    if sum(map(len, features)) <= longest:
        return "" not in features
    return max(map(len, features)) <= longest and min(map(len, features)) >= 1


_new_record = Record.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


# pydantic error type -> our error kind (the first error of a record decides).
_KIND_BY_PYDANTIC_TYPE = {
    "json_invalid": "invalid_json",
    "json_type": "invalid_json",
    "finite_number": "not_finite",
    "extra_forbidden": "unknown_field",
    "string_too_long": "too_large",
    "too_long": "too_large",
    "string_too_short": "empty_id",
    "model_type": "not_an_object",
    "model_attributes_type": "not_an_object",
    "literal_error": "unsupported_schema_version",
}


class RecordDecoder:
    """Validates raw bytes against the Record schema and the size limits.

    ``unknown_fields`` is what happens to a top-level field the schema does
    not know: kept in ``metadata`` (the default), ignored, or the record
    rejected (``unknown_field``); see :class:`~labelstream.core.schemas.Record`.
    """

    def __init__(
        self,
        max_record_bytes: int = 64 * 1024,
        max_features: int = 1000,
        max_feature_name_length: int = 128,
        max_string_length: int = 1024,
        max_text_length: int = 32 * 1024,
        unknown_fields: UnknownFields = "metadata",
    ) -> None:
        self.max_record_bytes = max_record_bytes
        self.max_features = max_features
        self.max_feature_name_length = max_feature_name_length
        self.max_string_length = max_string_length
        self.max_text_length = max_text_length
        self.unknown_fields = unknown_fields
        self._context = {"unknown_fields": unknown_fields}
        self._plain_type = _plain_record_type(self)
        self._plain_decoder = msgspec.json.Decoder(self._plain_type)
        self._names_unchecked_decoder = msgspec.json.Decoder(_plain_record_type(self, check_names=False))
        self._names_fit: dict[tuple[str, ...], bool] = {}  # feature names, in order -> whether their lengths fit

    @classmethod
    def from_limits(cls, limits: LimitSettings) -> RecordDecoder:
        """Build from the ``limits`` settings section."""
        return cls(**limits.model_dump())

    def decode(self, value: bytes | None, key: bytes | None = None) -> Record | DecodeError:
        """Decode one message value; ``key``, when given, must equal the record id."""
        if not value:
            return DecodeError("empty", "empty message")
        if len(value) > self.max_record_bytes:
            return DecodeError("too_large", f"{len(value)} bytes > limit of {self.max_record_bytes} (limits.max_record_bytes)")
        record = self._fast(value) or self._slow(value)
        if isinstance(record, DecodeError):
            return record
        if key is not None and key != record.id.encode():
            return DecodeError("key_mismatch", f"message key {key[:64]!r} differs from record id {record.id[:64]!r}")
        return record

    def _slow(self, value: bytes) -> Record | DecodeError:
        """What :meth:`decode` does with a value the fast path refused: an evolved record in C, else pydantic."""
        return self._evolved(value) or self._thorough(value)

    def _thorough(self, value: bytes) -> Record | DecodeError:
        """pydantic's validation, the schema's source of truth (and its precise error messages)."""
        try:
            record = Record.model_validate_json(value, context=self._context)
        except ValidationError as exc:
            return _from_validation_error(exc)
        except (ValueError, RecursionError) as exc:  # pragma: no cover - pydantic wraps these
            return DecodeError("invalid_json", str(exc)[:200])
        return self._check_limits(record) or record

    def _fast(self, value: bytes) -> Record | None:
        """The common case in C: a plain, clearly valid record, or ``None`` to decide thoroughly.

        msgspec decodes and checks the value against a struct mirroring Record
        and the limits in ~2 us; ``model_validate_json`` takes ~10 us for 20
        numeric features and a categorical, and was the labeler's largest cost.
        Anything unusual (booleans, NaN, integers past 64 bits, added fields,
        invalid JSON, ...) fails here and goes to :meth:`_thorough`, which has
        the last word and the precise message; a property test checks that
        this path accepts nothing pydantic would refuse.
        """
        try:
            plain = self._plain_decoder.decode(value)
        except msgspec.DecodeError:
            return None
        return _unchecked_record(plain.id, plain.features, plain.text, plain.source, plain.timestamp, plain.metadata)

    def decode_plain_many(self, values: Sequence[bytes | None]) -> list[Record | None]:
        """:meth:`_fast` of each value within the size limit, in one loop: a record, or ``None`` (then
        :meth:`decode` decides). The key is not checked. The labeler's batches: one call, not three, a value.

        The feature names' lengths are checked after msgspec's decode, not by it (msgspec's check of each dict key
        cost ~0.65 us of its ~2.1 a record of 20 features), once a set of names (:func:`_names_fit`, remembered
        for the next records with the same names in the same order: ~0.25 us a record); the same records either
        way (tests/core/test_decode.py).
        """
        decode, limit = self._names_unchecked_decoder.decode, self.max_record_bytes
        new, set_dict, set_fields_set, set_extra, set_private = _new_record, _set_dict, _set_fields_set, _set_extra, _set_private
        longest, fits = self.max_feature_name_length, self._names_fit
        out: list[Record | None] = []
        append = out.append
        for value in values:
            if not value or len(value) > limit:
                append(None)
                continue
            try:
                plain = decode(value)
            except Exception:  # noqa: BLE001 - msgspec's refusal, or anything else: decode() decides
                append(None)
                continue
            features = plain.features
            names = tuple(features)  # msgspec reuses the key strings: their hashes are known
            fit = fits.get(names)
            if fit is None:
                if len(fits) >= _MAX_NAME_SETS:
                    fits.clear()
                fit = fits[names] = _names_fit(features, longest)
            if not fit:
                append(None)
                continue
            # _unchecked_record, inlined (a Python call less a record); msgspec made a new metadata dict for each
            metadata = plain.metadata
            record = new(Record)
            set_dict(record, {
                "schema_version": 1, "id": plain.id, "features": features, "text": plain.text,
                "source": plain.source, "timestamp": plain.timestamp, "metadata": metadata,
            })
            set_fields_set(record, {"id", "features", "metadata"} if metadata else {"id", "features"})
            set_extra(record, None)
            set_private(record, None)
            append(record)
        return out

    def _evolved(self, value: bytes) -> Record | None:
        """A plain record a producer evolved (fields added, a ``"1.N"`` version) in C, or ``None``.

        Without it such records take pydantic's path, about twice the cost
        (a record of 20 numeric features: ~9 us here, ~17 us there). The
        unknown fields are sorted out with the helper :class:`Record` uses,
        the rest must pass the fast path's struct; a property test checks
        that this path accepts only what pydantic accepts, and agrees.
        """
        try:
            data = msgspec.json.decode(value)
        except (msgspec.MsgspecError, RecursionError):  # deep nesting: pydantic names it
            return None
        if type(data) is not dict:
            return None
        try:
            data["schema_version"] = record_schema_version(data.get("schema_version", 1))
        except ValueError:
            return None
        unknown = None
        if not data.keys() <= RECORD_FIELDS:
            if self.unknown_fields == "reject":
                return None
            unknown = {name: value for name, value in data.items() if name not in RECORD_FIELDS}
            for name in unknown:
                del data[name]
        try:
            plain = msgspec.convert(data, self._plain_type)
        except msgspec.ValidationError:
            return None
        metadata = plain.metadata
        if unknown and self.unknown_fields == "metadata":
            metadata = metadata_from_unknown(unknown) | metadata
        return _unchecked_record(plain.id, plain.features, plain.text, plain.source, plain.timestamp, metadata)

    def validate(self, payload: dict) -> Record | DecodeError:
        """Validate an already-parsed payload (e.g. a CSV row) with the same rules."""
        try:
            record = Record.model_validate(payload, context=self._context)
        except ValidationError as exc:
            return _from_validation_error(exc)
        return self._check_limits(record) or record

    def _check_limits(self, record: Record) -> DecodeError | None:
        features = record.features
        if not features:
            return DecodeError("no_features", "features is empty")
        if len(features) > self.max_features:
            return DecodeError("too_large", f"{len(features)} features > limit of {self.max_features} (limits.max_features)")
        for name, value in features.items():
            if not name or len(name) > self.max_feature_name_length:
                return DecodeError("bad_feature_name", f"feature name of length {len(name)} (1..{self.max_feature_name_length})")
            if isinstance(value, str) and len(value) > self.max_string_length:
                return DecodeError("too_large", f"features.{name[:64]}: string longer than {self.max_string_length}")
        if record.text is not None and len(record.text) > self.max_text_length:
            return DecodeError("too_large", f"text longer than {self.max_text_length} (limits.max_text_length)")
        return None


def _from_validation_error(exc: ValidationError) -> DecodeError:
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    error_type = first["type"]
    if loc == "schema_version":
        kind = "unsupported_schema_version"
    elif error_type == "missing":
        kind = "missing_id" if loc == "id" else "missing_field"
    elif error_type == "value_error" and "is not finite" in first["msg"]:
        kind = "not_finite"
    elif error_type == "value_error" and "out of range" in first["msg"]:
        kind = "number_out_of_range"
    else:
        kind = _KIND_BY_PYDANTIC_TYPE.get(error_type, "wrong_type")
    reason = first["msg"].removeprefix("Value error, ")
    message = f"{loc}: {reason}" if loc else reason
    if exc.error_count() > 1:
        message += f" (and {exc.error_count() - 1} more)"
    return DecodeError(kind, message[:500])


def decode_correction(value: bytes | None, key: bytes | None = None, max_bytes: int = 16 * 1024) -> Correction | DecodeError:
    """Decode a human answer from ``corrections``; never raises on bad input.

    >>> decode_correction(b'{"id": "r1", "label": "spam", "reviewer": "ana"}').label
    'spam'
    >>> decode_correction(b'{"id": "r1"}').kind
    'missing_field'
    """
    if not value:
        return DecodeError("empty", "empty message")
    if len(value) > max_bytes:
        return DecodeError("too_large", f"{len(value)} bytes > limit of {max_bytes}")
    try:
        correction = Correction.model_validate_json(value)
    except ValidationError as exc:
        return _from_validation_error(exc)
    if not math.isfinite(correction.timestamp):  # NaN/Infinity literals parse as floats
        return DecodeError("not_finite", f"timestamp: is not finite ({correction.timestamp})")
    if key is not None and key != correction.id.encode():
        return DecodeError("key_mismatch", f"message key {key[:64]!r} differs from correction id {correction.id[:64]!r}")
    return correction
