"""Bad input never raises: property-based tests over the record decoder and the correction decoder.

Every input is either a valid Record/Correction or a DecodeError with a known
kind (the metric label and the DLQ's ``error_kind``). The fuzzer run (atheris)
is in test_fuzz.py; these are the structured cases it would take long to find.
"""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelstream.core.decode import DecodeError, RecordDecoder, decode_correction
from labelstream.core.schemas import Correction, Record

pytestmark = pytest.mark.faults

RECORD_KINDS = {
    "empty", "too_large", "invalid_json", "not_finite", "unknown_field", "empty_id", "not_an_object",
    "unsupported_schema_version", "missing_id", "missing_field", "number_out_of_range", "wrong_type",
    "no_features", "bad_feature_name", "key_mismatch",
}
CORRECTION_KINDS = RECORD_KINDS

DECODER = RecordDecoder()
EXAMPLES = 400
RELAXED = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

huge_ints = st.integers(min_value=-(2**70), max_value=2**70) | st.just(2**63) | st.just(-(2**63) - 1) | st.just(10**400)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308, 5e-324, -0.0])
strings = st.text(max_size=40) | st.text(min_size=1000, max_size=2000) | st.just("\x00") | st.just("\ud800")
scalars = st.none() | st.booleans() | huge_ints | floats | strings
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4), max_leaves=20)
feature_values = st.one_of(huge_ints, floats, strings, st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
features = st.dictionaries(strings, feature_values, max_size=6)
ids = st.one_of(st.text(max_size=300), st.integers(), st.none(), st.floats(), st.lists(st.text(), max_size=2))
keys = st.none() | st.binary(max_size=20)


def dumps(value: object) -> bytes:
    """JSON as a sloppy producer writes it: NaN/Infinity literals, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()


def check_record(result: Record | DecodeError) -> None:
    if isinstance(result, DecodeError):
        assert result.kind in RECORD_KINDS, result
        assert result.message and len(result.message) <= 600
        return
    assert isinstance(result, Record)
    assert 1 <= len(result.id) <= 256
    assert result.features
    for value in result.features.values():
        assert isinstance(value, (int, float, str))
        if isinstance(value, float):
            assert math.isfinite(value)
        if isinstance(value, int):
            assert abs(value) <= 2**63


def check_correction(result: Correction | DecodeError) -> None:
    if isinstance(result, DecodeError):
        assert result.kind in CORRECTION_KINDS, result
        return
    assert isinstance(result, Correction)
    assert result.id and result.label
    assert math.isfinite(result.timestamp), "a correction's timestamp must be finite (it feeds latencies and evidence age)"


@RELAXED
@given(st.binary(max_size=2000), keys)
def test_arbitrary_bytes_never_raise(value, key):
    check_record(DECODER.decode(value, key))
    check_correction(decode_correction(value, key))


@RELAXED
@given(json_values, keys)
def test_arbitrary_json_never_raises(value, key):
    raw = dumps(value)
    check_record(DECODER.decode(raw, key))
    check_correction(decode_correction(raw, key))


@RELAXED
@given(ids, features, st.dictionaries(strings, json_values, max_size=3), st.booleans())
def test_record_shaped_json_is_a_record_or_a_reason(record_id, feats, extra, with_key):
    payload = {"id": record_id, "features": feats, **extra}
    raw = dumps(payload)
    key = str(record_id).encode() if with_key else None
    result = DECODER.decode(raw, key)
    check_record(result)
    if isinstance(result, Record):
        assert result.id == record_id
        # unknown fields are kept in metadata (limits.unknown_fields), never silently dropped
        assert set(extra) - set(Record.model_fields) <= set(result.metadata)


@RELAXED
@given(st.text(min_size=1, max_size=300) | ids, st.text(min_size=1, max_size=300) | st.integers() | st.none(), floats | huge_ints | st.text(max_size=5))
def test_correction_shaped_json_is_a_correction_or_a_reason(record_id, label, timestamp):
    raw = dumps({"id": record_id, "label": label, "reviewer": "r", "timestamp": timestamp})
    check_correction(decode_correction(raw, None))


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", "empty"),
        (None, "empty"),
        (b"{", "invalid_json"),
        (b'{"id": "a", "features": {"x": NaN}}', "not_finite"),
        (b'{"id": "a", "features": {"x": Infinity}}', "not_finite"),
        (b'{"id": "a", "features": {"x": 1e400}}', "not_finite"),
        (b'{"id": "a", "features": {"x": ' + b"9" * 400 + b"}}", "number_out_of_range"),
        (b'{"features": {"x": 1}}', "missing_id"),
        (b'{"id": "", "features": {"x": 1}}', "empty_id"),
        (b'{"id": 7, "features": {"x": 1}}', "wrong_type"),
        (b'{"id": "a", "features": {"x": [1]}}', "wrong_type"),
        (b'{"id": "a", "features": {}}', "no_features"),
        (b'{"id": "\xff\xfe", "features": {"x": 1}}', "invalid_json"),
        (b'{"id": "\\ud800", "features": {"x": 1}}', "invalid_json"),
        (b"\xef\xbb\xbf{}", "invalid_json"),
        (b'{"id": "a", "features": ' + b'{"x": ' * 5000 + b"1" + b"}" * 5001, "invalid_json"),
        (b"[" * 30_000, "invalid_json"),
        (b'{"id": "a", "features": {"x": "' + b"s" * 2000 + b'"}}', "too_large"),
        (b'{"id": "a", "features": {"x": 1}, "text": "' + b"t" * 70_000 + b'"}', "too_large"),
        (b"null", "not_an_object"),
        (b'{"id": "a", "features": {"x": 1}, "schema_version": 2}', "unsupported_schema_version"),
    ],
)
def test_each_kind_of_bad_record_is_named(raw, kind):
    result = DECODER.decode(raw)
    assert isinstance(result, DecodeError) and result.kind == kind, result


def test_a_strict_reader_names_an_unknown_field():
    result = RecordDecoder(unknown_fields="reject").decode(b'{"id": "a", "features": {"x": 1}, "colour": "red"}')
    assert isinstance(result, DecodeError) and result.kind == "unknown_field", result


def test_key_must_match_the_id_and_a_null_key_is_fine():
    raw = orjson.dumps({"id": "a", "features": {"x": 1}})
    assert DECODER.decode(raw, b"b").kind == "key_mismatch"
    assert DECODER.decode(raw, None).id == "a"
    assert DECODER.decode(raw, b"a").id == "a"


def test_duplicate_id_keys_decode_deterministically_to_the_last():
    """A JSON object with the id twice is not refused; the last one wins (as in every mainstream parser)."""
    result = DECODER.decode(b'{"id": "a", "id": "b", "features": {"x": 1}}')
    assert result.id == "b"
    assert DECODER.decode(b'{"id": "a", "id": "b", "features": {"x": 1}}', b"a").kind == "key_mismatch"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", "empty"),
        (b'{"id": "r1"}', "missing_field"),
        (b'{"id": "r1", "label": ""}', "empty_id"),
        (b'{"id": "r1", "label": 3}', "wrong_type"),
        (b'{"id": "r1", "label": "x", "timestamp": NaN}', "not_finite"),
        (b'{"id": "r1", "label": "x", "timestamp": 1e400}', "not_finite"),
        (b'{"id": "r1", "label": "x", "schema_version": "2.0"}', "unsupported_schema_version"),  # an added field is read: docs/schema-evolution.md
        (b'{"id": "r1", "label": "x"}' + b" " * 20_000, "too_large"),
    ],
)
def test_each_kind_of_bad_correction_is_named(raw, kind):
    result = decode_correction(raw)
    assert isinstance(result, DecodeError) and result.kind == kind, result
