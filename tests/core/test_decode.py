import copy
import json
import pickle

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
        (b'{"id": "a", "features": {}}', "no_features"),
        (b'{"id": "a", "features": {"a":1,"b":1,"c":1,"d":1,"e":1,"f":1}}', "too_large"),
        (b'{"id": "a", "features": {"c": "' + b"x" * 50 + b'"}}', "too_large"),
        (b'{"id": "a", "features": {"x": 1}}' + b" " * 3000, "too_large"),
        (b"[" * 3000 + b"]" * 3000, "too_large"),
        (b"[" * 500 + b"]" * 500, "invalid_json"),
        (b'{"id": "a", "features": {"x": 100000000000000000000000000}}', "number_out_of_range"),
        (b'{"schema_version": 2, "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
        (b'{"schema_version": "2.0", "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
        (b'{"schema_version": 0, "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
        (b'{"schema_version": 1.2, "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
        (b'{"schema_version": "1.x", "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
        (b'{"schema_version": true, "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
        (b'{"schema_version": null, "id": "a", "features": {"x": 1}}', "unsupported_schema_version"),
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
# Two kinds of payload. Wild ones (any JSON in any field) probe the shapes; but fewer than 1 in 500 of them
# is a valid record, so they almost never reach the branch the property is about (the C path *accepting*).
# Near-valid ones straddle the limits of `small` (5 features, names of 10, strings of 12, text of 20),
# the 64-bit integers, booleans and None in every field: about half are valid, the rest fail one rule.
wild_payloads = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=300), json_values), "features": st.one_of(st.dictionaries(st.text(max_size=40), json_values, max_size=8), json_values)},
    optional={
        "text": json_values, "source": json_values, "timestamp": json_values, "metadata": json_values,
        "schema_version": st.sampled_from([1, 2, "1", True, None]), "extra": json_values,
    },
)
def mostly(valid, invalid, odds: int = 6):
    """``valid`` ``odds`` times to one: a payload of several fields then breaks at most a rule or two."""
    return st.integers(0, odds).flatmap(lambda pick: valid if pick else invalid)  # one_of would flatten: weights by branch count


def texts(**sizes):
    """Text without lone surrogates (JSON can carry them, pydantic refuses them: the wild payloads have them)."""
    return st.text(st.characters(exclude_categories=("Cs",)), **sizes)


def around(limit: int) -> st.SearchStrategy[str]:
    """Short text, or text at the limit: within it ``odds`` times to one, else one or two past it."""
    return mostly(texts(max_size=3) | texts(min_size=limit - 1, max_size=limit), texts(min_size=limit + 1, max_size=limit + 2))


odd_scalars = st.one_of(st.booleans(), st.none(), st.integers(min_value=2**63 - 2, max_value=2**65), st.integers(max_value=-(2**63) + 1, min_value=-(2**65)))
near_scalars = mostly(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**63 - 1), around(12)), odd_scalars, odds=8)
near_fields = {
    "text": mostly(around(20) | st.none(), json_values),
    "source": mostly(texts(max_size=10) | st.none(), json_values),
    "timestamp": mostly(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none()), near_scalars),
    "metadata": mostly(st.dictionaries(texts(max_size=5), near_scalars, max_size=3), json_values),
}
near_id = mostly(texts(min_size=1, max_size=12), st.one_of(st.just(""), json_scalars))
feature_names = mostly(texts(min_size=1, max_size=3) | texts(min_size=9, max_size=10), texts(min_size=11, max_size=12) | st.just(""), odds=8)
near_features = mostly(
    st.dictionaries(feature_names, near_scalars, min_size=1, max_size=3) | st.dictionaries(feature_names, near_scalars, min_size=5, max_size=6),
    json_values,
)
near_valid_payloads = st.fixed_dictionaries(
    {"id": near_id, "features": near_features},
    optional={**near_fields, "schema_version": mostly(st.sampled_from([1, "1"]), st.sampled_from([2, "2", True, None]))},
)
payloads = st.one_of(near_valid_payloads, wild_payloads)
small = RecordDecoder(max_features=5, max_feature_name_length=10, max_string_length=12, max_text_length=20)


def check_agrees_with_pydantic(path, decoder: RecordDecoder, payload: dict) -> None:
    """A C path (``decoder._fast`` or ``decoder._evolved``) accepts only what pydantic accepts, and returns the same record."""
    raw = json.dumps(payload).encode()
    fast = path(raw)
    if fast is not None:
        thorough = decoder._thorough(raw)
        assert isinstance(thorough, Record), (payload, thorough)
        assert fast == thorough
        assert fast.model_dump_json() == thorough.model_dump_json()  # same types too (1 is not 1.0 here)


@settings(max_examples=400, deadline=None)
@given(payloads)
def test_fast_path_accepts_only_what_pydantic_accepts(payload):
    check_agrees_with_pydantic(small._fast, small, payload)


@settings(max_examples=300, deadline=None)
@given(st.lists(payloads, max_size=6))
def test_the_batch_path_takes_exactly_what_the_fast_path_takes(batch):
    """decode_plain_many checks the feature names after msgspec (once a set of names): the same records as _fast."""
    raws = [json.dumps(payload).encode() for payload in batch]
    for raw, many in zip(raws, small.decode_plain_many(raws), strict=True):
        fast = small._fast(raw) if len(raw) <= small.max_record_bytes else None
        assert (many is None) == (fast is None), raw
        if fast is not None:
            assert many == fast and many.model_dump_json() == fast.model_dump_json()
            assert many.model_fields_set == fast.model_fields_set


def test_the_batch_path_checks_each_name_length_whatever_their_total():
    names = {
        "fits": {"abcdefghij": 1, "x": 2},  # each within 10, total 11
        "empty": {"": 1, "x": 2},
        "long": {"abcdefghijk": 1},
        "long among short": {"a": 1, "abcdefghijk": 2},
    }
    raws = [json.dumps({"id": "r", "features": features}).encode() for features in names.values()] * 2  # then remembered
    assert [record is not None for record in small.decode_plain_many(raws)] == [True, False, False, False] * 2


def test_fast_path_takes_the_common_record():
    raw = b'{"id": "r1", "features": {"x": 1.5, "n": 3, "c": "red"}, "source": "s", "timestamp": 1764500000.5}'
    fast = decoder._fast(raw)
    assert fast is not None and fast == decoder._thorough(raw)
    assert fast.model_fields_set == {"id", "features"} and fast.__pydantic_extra__ is None
    assert pickle.loads(pickle.dumps(fast)) == fast == copy.deepcopy(fast) == fast.model_copy(update={"text": None})
    evolved = decoder._fast(b'{"id": "r1", "features": {"x": 1}, "metadata": {"shop": "s1"}}')
    assert evolved.model_fields_set == {"id", "features", "metadata"} and evolved.metadata == {"shop": "s1"}


# -- schema evolution: producers add fields and bump the minor version (docs/schema-evolution.md) ----

def evolved(policy: str) -> RecordDecoder:
    return RecordDecoder(unknown_fields=policy)


@pytest.mark.parametrize("version", ["1", "1.0", "1.3", "1.123456"])
def test_any_minor_of_major_1_is_read(version):
    raw = json.dumps({"schema_version": version, "id": "a", "features": {"x": 1}}).encode()
    record = decoder.decode(raw)
    assert isinstance(record, Record), record
    assert record.schema_version == 1


def test_a_newer_major_says_what_to_do():
    error = decoder.decode(b'{"schema_version": "2.1", "id": "a", "features": {"x": 1}}')
    assert error.kind == "unsupported_schema_version"
    assert "major version 2" in error.message and "upgrade the services" in error.message


def test_unknown_fields_kept_in_metadata():
    raw = (
        b'{"schema_version": "1.2", "id": "a", "features": {"x": 1}, "shop": "s1", "priority": 3, "price": 9.5,'
        b' "vip": true, "gone": null, "tags": ["a", "b"], "geo": {"lat": 1.5}, "score": NaN,'
        b' "metadata": {"owner": "ana", "shop": "explicit"}}'
    )
    record = evolved("metadata").decode(raw)
    assert isinstance(record, Record), record
    assert record.metadata == {
        "owner": "ana", "shop": "explicit",  # an explicit metadata entry wins over an unknown field of its name
        "priority": 3, "price": 9.5, "vip": True, "gone": None,
        "tags": '["a","b"]', "geo": '{"lat":1.5}', "score": "NaN",  # anything but a finite scalar: compact JSON text
    }
    assert record.features == {"x": 1}


def test_unknown_fields_ignored():
    raw = b'{"id": "a", "features": {"x": 1}, "shop": "s1", "metadata": {"owner": "ana"}}'
    record = evolved("ignore").decode(raw)
    assert isinstance(record, Record), record
    assert record.metadata == {"owner": "ana"}


def test_unknown_fields_rejected_by_a_strict_reader():
    error = evolved("reject").decode(b'{"id": "a", "features": {"x": 1}, "shop": "s1"}')
    assert isinstance(error, DecodeError)
    assert (error.kind, error.message) == ("unknown_field", "shop: a field the record schema does not know (limits.unknown_fields is reject)")


def test_unknown_fields_do_not_hide_a_bad_known_field():
    error = evolved("metadata").decode(b'{"id": "a", "features": {"x": NaN}, "shop": "s1"}')
    assert error.kind == "not_finite"
    error = evolved("metadata").decode(b'{"id": "a", "features": {"x": 1}, "shop": "s1", "metadata": [1]}')
    assert error.kind == "wrong_type"


def test_an_evolved_record_is_re_emitted_as_a_plain_one():
    """What the labeler forwards (the record inside a ReviewRequest or Deferred) is readable by the strictest reader."""
    record = evolved("metadata").decode(b'{"schema_version": "1.4", "id": "a", "features": {"x": 1}, "shop": "s1"}')
    again = evolved("reject").decode(record.model_dump_json().encode())
    assert again == record


def test_validate_payload_follows_the_same_policy():
    payload = {"id": "a", "features": {"x": 1}, "shop": "s1"}
    assert evolved("metadata").validate(payload).metadata == {"shop": "s1"}
    assert evolved("ignore").validate(payload).metadata == {}
    assert evolved("reject").validate(payload).kind == "unknown_field"


def test_a_forwarded_evolved_record_is_readable_downstream():
    """review and deferred carry the record as produced; their readers (review service, relabel) apply the same rule."""
    from labelstream.core.encode import encode_deferred
    from labelstream.core.schemas import Deferred

    raw = b'{"schema_version": "1.4", "id": "a", "features": {"x": 1}, "shop": "s1"}'
    deferred = Deferred.model_validate_json(encode_deferred(raw, "a", "no_evidence", None, {}, None, 1.0))
    assert deferred.record == decoder.decode(raw)
    assert Record.model_validate_json(raw).metadata == {"shop": "s1"}


known = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=20), "features": st.dictionaries(st.text(min_size=1, max_size=10), st.integers(-100, 100), min_size=1, max_size=5)},
    optional={"metadata": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3), "schema_version": st.sampled_from([1, "1", "1.0", "1.9"])},
)
added = st.dictionaries(
    st.text(max_size=12).filter(lambda name: name not in Record.model_fields),
    st.recursive(json_scalars | st.just(float("nan")), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=5),
    min_size=1, max_size=4,
)
roomy = {"max_features": 5, "max_feature_name_length": 10, "max_string_length": 30, "max_text_length": 20}


@settings(max_examples=200, deadline=None)
@given(known, added)
def test_adding_fields_never_loses_a_valid_record(base, extra):
    """A valid record stays valid, with the same known fields, whatever fields a producer adds."""
    plain = RecordDecoder(**roomy, unknown_fields="reject").decode(json.dumps(base).encode())
    assert isinstance(plain, Record), plain
    raw = json.dumps({**extra, **base}, allow_nan=True).encode()
    kept = RecordDecoder(**roomy, unknown_fields="metadata").decode(raw)
    ignored = RecordDecoder(**roomy, unknown_fields="ignore").decode(raw)
    assert ignored == plain
    assert isinstance(kept, Record), kept
    assert kept.model_dump(exclude={"metadata"}) == plain.model_dump(exclude={"metadata"})
    assert kept.metadata.keys() == plain.metadata.keys() | extra.keys()
    assert all(kept.metadata[name] == value for name, value in plain.metadata.items())


evolved_versions = mostly(st.sampled_from([1, "1", "1.7", "1.0"]), st.sampled_from([2, "2.0", "1.x", 1.5, True, None]))
evolved_payloads = st.one_of(
    st.fixed_dictionaries(  # near-valid, with added fields (see payloads)
        {"id": near_id, "features": near_features},
        optional={**near_fields, "schema_version": evolved_versions, "shop": json_values, "metadata_": json_values, "extra": near_scalars},
    ),
    st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=300), json_values), "features": st.one_of(st.dictionaries(st.text(max_size=40), json_values, max_size=8), json_values)},
        optional={
            "text": json_values, "source": json_values, "timestamp": json_values, "metadata": json_values,
            "schema_version": evolved_versions, "extra": json_values, "shop": json_values, "metadata_": json_values,
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(evolved_payloads, st.sampled_from(["metadata", "ignore", "reject"]))
def test_evolved_path_accepts_only_what_pydantic_accepts_and_agrees(payload, policy):
    decoder = RecordDecoder(max_features=5, max_feature_name_length=10, max_string_length=12, max_text_length=20, unknown_fields=policy)
    check_agrees_with_pydantic(decoder._evolved, decoder, payload)


def test_evolved_path_takes_the_evolved_record():
    raw = b'{"schema_version": "1.2", "id": "r1", "features": {"x": 1.5, "c": "red"}, "shop": "s1", "tags": [1]}'
    fast = decoder._evolved(raw)
    assert fast is not None and fast == decoder._thorough(raw)
    assert fast.metadata == {"shop": "s1", "tags": "[1]"}


def test_the_policy_comes_from_limits_unknown_fields(monkeypatch):
    from labelstream.settings import load_settings

    raw = b'{"id": "a", "features": {"x": 1}, "shop": "s1"}'
    assert RecordDecoder.from_limits(load_settings().limits).decode(raw).metadata == {"shop": "s1"}
    monkeypatch.setenv("LABELSTREAM_LIMITS__UNKNOWN_FIELDS", "reject")
    assert RecordDecoder.from_limits(load_settings().limits).decode(raw).kind == "unknown_field"
