import pytest

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
