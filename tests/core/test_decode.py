import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelstream.core.decode import DecodeError, RecordDecoder
from labelstream.core.schemas import Record

decoder = RecordDecoder(max_record_bytes=2000, max_features=5, max_string_length=20)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", "empty"),
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b"null", "not_an_object"),
        (b'{"features": {"x": 1}}', "missing_id"),
        (b'{"id": 5, "features": {"x": 1}}', "wrong_type"),
        (b'{"id": "", "features": {"x": 1}}', "empty_id"),
        (b'{"id": "a", "features": {"x": NaN}}', "not_finite"),
        (b'{"id": "a", "features": {"x": 1e999}}', "not_finite"),
        (b'{"id": "a", "features": {"x": [1]}}', "wrong_type"),
        (b'{"id": "a", "features": {"x": 1}, "extra": 1}', "unknown_field"),
        (b'{"id": "a", "features": {}}', "no_features"),
        (b'{"id": "a", "features": {"a":1,"b":1,"c":1,"d":1,"e":1,"f":1}}', "too_large"),
        (b'{"id": "a", "features": {"c": "' + b"x" * 50 + b'"}}', "too_large"),
        (b'{"id": "a", "features": {"x": 1}}' + b" " * 3000, "too_large"),
        (b"[" * 3000 + b"]" * 3000, "too_large"),
        (b"[" * 500 + b"]" * 500, "invalid_json"),
        (b'{"id": "a", "features": {"x": 100000000000000000000000000}}', "number_out_of_range"),
        (b'{"schema_version": 2, "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
    ],
)
def test_bad_input_is_an_error_not_a_crash(raw, kind):
    result = decoder.decode(raw)
    assert isinstance(result, DecodeError)
    assert result.kind == kind, result.message


def test_valid_record_round_trips():
    record = decoder.decode(b'{"id": "a", "features": {"x": 1.5, "c": "red"}, "source": "s"}', key=b"a")
    assert isinstance(record, Record)
    assert record.features == {"x": 1.5, "c": "red"}


def test_key_must_match_id():
    result = decoder.decode(b'{"id": "a", "features": {"x": 1}}', key=b"b")
    assert isinstance(result, DecodeError) and result.kind == "key_mismatch"


def test_validate_payload_uses_the_same_rules():
    assert isinstance(decoder.validate({"id": "a", "features": {"x": float("nan")}}), DecodeError)
    assert isinstance(decoder.validate({"id": "a", "features": {"x": 1}}), Record)


# -- the fast path (msgspec) never accepts what pydantic refuses ------------------------------



json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=5)
payloads = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=300), json_values), "features": st.one_of(st.dictionaries(st.text(max_size=40), json_values, max_size=8), json_values)},
    optional={
        "text": json_values, "source": json_values, "timestamp": json_values, "metadata": json_values,
        "schema_version": st.sampled_from([1, 2, "1", True, None]), "extra": json_values,
    },
)
small = RecordDecoder(max_features=5, max_feature_name_length=10, max_string_length=12, max_text_length=20)


@settings(max_examples=1500, deadline=None)
@given(payloads)
def test_fast_path_accepts_only_what_pydantic_accepts(payload):
    raw = json.dumps(payload).encode()
    fast = small._fast(raw)
    thorough = small._thorough(raw)
    if fast is not None:
        assert isinstance(thorough, Record), (payload, thorough)
        assert fast == thorough
        assert fast.model_dump() == thorough.model_dump()


def test_fast_path_takes_the_common_record():
    raw = b'{"id": "r1", "features": {"x": 1.5, "n": 3, "c": "red"}, "source": "s", "timestamp": 1764500000.5}'
    fast = decoder._fast(raw)
    assert fast is not None and fast == decoder._thorough(raw)
