"""The columnar decode (core/columnar.py): the same outcomes, byte for byte, as the exact per-value decode."""

from __future__ import annotations

import json
import random
import re

import msgspec
import orjson
import pytest
from test_router import TOPICS, engine_pair, varied_stream

from labelstream.bench.workload import synthetic_records
from labelstream.core.columnar import ColumnarBatch, ColumnarDecoder, LazyRouted
from labelstream.core.compiled_inputs import InputMatrix
from labelstream.core.decode import RecordDecoder
from labelstream.core.dedupe import DedupeWindow
from labelstream.core.router import BatchRouter, Origin
from labelstream.core.schemas import Record

_DEAD_LETTER_TIME = re.compile(rb'"timestamp":[0-9.e+-]+')


def mixed_stream(n: int, seed: int) -> tuple[list[bytes | None], list[bytes | None]]:
    """Values and keys: the varied stream (missing, unknown, reordered features, strings for numbers, booleans,
    evolved records, text) with invalid JSON, nulls, wrong types, added top-level fields, metadata, duplicates,
    keys that differ, empty and oversized values, integers past 64 bits, NaN, and a second producer's layout."""
    rng = random.Random(seed)
    values: list[bytes | None] = list(varied_stream(n, seed))
    keys: list[bytes | None] = [None] * len(values)
    odd = [
        b'{"id": "bad", "features": ', b"not json", b"", None, b"[1, 2]", b'"a string"', b"{}",
        b'{"id": "", "features": {"f00": 1}}', b'{"id": "n", "features": {}}',
        b'{"id": "n", "features": {"f00": null, "f01": 1.0}}', b'{"id": "n", "features": {"f00": NaN}}',
        b'{"id": "n", "features": {"f00": 1e400}}', b'{"id": "n", "features": {"f00": 123456789012345678901234567890}}',
        b'{"id": 5, "features": {"f00": 1}}', b'{"features": {"f00": 1}}', b'{"id": "n"}',
        b'{"id": "n", "features": {"f00": 1}, "schema_version": 2}', b'{"id": "n", "features": {"f00": 1}, "metadata": {"a": 1}}',
        b'{"id": "n", "features": {"f00": 1}, "timestamp": "x"}', b'{"id": "n", "features": {"f00": 1}, "source": 3}',
        b'{"id": "n", "features": [1, 2]}', b"x" * (64 * 1024 + 1),
    ]
    for i in range(len(values)):
        roll = rng.randrange(60)
        if roll == 0:
            values[i] = rng.choice(odd)
        elif roll == 1 and i > 10:
            values[i] = values[i - rng.randrange(1, 10)]  # a duplicate id (or a duplicate odd value)
        elif roll == 2:
            keys[i] = b"another-key"  # differs from the id
        elif roll in (3, 4) and values[i]:
            keys[i] = orjson.loads(values[i])["id"].encode() if values[i].startswith(b"{") else None
        elif roll == 5 and values[i] and values[i].startswith(b"{"):
            payload = orjson.loads(values[i])
            if isinstance(payload.get("features"), dict) and "f06" in payload["features"]:
                payload["features"]["f06"] = rng.choice([True, None, "1.5", 2**70, -(2**63), 2**63 - 1, -0.0, [1], {"a": 1}])
                values[i] = json.dumps(payload, separators=(",", ":")).encode()  # orjson has no integers past 64 bits
        elif roll == 6 and values[i] and values[i].startswith(b"{"):
            payload = orjson.loads(values[i])
            payload[rng.choice(["timestamp", "source"])] = rng.choice([1_764_000_000, 1.5e9, None, "shop"])
            values[i] = orjson.dumps(payload)
        elif roll == 7 and values[i] and values[i].startswith(b"{"):
            values[i] = values[i].replace(b'"f07":', b'"f07":1,"f07":', 1)  # a duplicate key
    for j, value in enumerate(odd):  # each at least once
        values[37 * j + 11] = value
    second = [orjson.dumps({"id": f"w{i}", "features": {"a": i % 7, "b": 0.5 * i, "colour": "red"}}) for i in range(400)]
    at = len(values) // 2
    values[at:at] = second  # another producer's layout for a while: learnt, then the first one learnt again
    keys[at:at] = [None] * len(second)
    return values, keys


def comparable(outcome) -> tuple:
    value = _DEAD_LETTER_TIME.sub(b"", outcome.value) if outcome.outcome == "dead_letter" else outcome.value
    routed = outcome.routed
    made = None if routed is None else (routed.record, routed.prediction, routed.decision, routed.votes)
    return (outcome.topic, outcome.key, value, outcome.outcome, outcome.reason, outcome.record_json, outcome.event_time,
            outcome.routed_at, outcome.model_version, outcome.evolved, made)


@pytest.mark.parametrize("seed", [3, 11])
def test_the_columnar_decode_routes_a_mixed_stream_byte_for_byte_as_the_exact_one(seed):
    exact_engine, columnar_engine = engine_pair(seed)
    values, keys = mixed_stream(3000, seed)
    routers = [BatchRouter(engine, RecordDecoder(), TOPICS, clock=lambda: 5.0, dedupe=DedupeWindow(500), columnar=columnar)
               for engine, columnar in ((exact_engine, False), (columnar_engine, True))]
    rng = random.Random(seed)
    got: list[list] = [[], []]
    lazy = 0
    start = 0
    while start < len(values):
        size = rng.choice([64, 500, 200, 3, 1000])
        chunk, chunk_keys = values[start:start + size], keys[start:start + size]
        origins = [Origin("records", start % 3, start + i, 1_700_000_000.0 + i) for i in range(len(chunk))]
        for out, router in zip(got, routers, strict=True):
            outcomes = router.route(chunk, chunk_keys, origins)
            lazy += sum(type(o.routed) is LazyRouted for o in outcomes)
            out.extend(comparable(o) for o in outcomes)  # reads each routed record: a lazy one is made here
        start += size

    assert got[0] == got[1]
    outcomes = {g[3] for g in got[0]}
    assert outcomes == {"label", "review", "deferred", "dead_letter"}
    reasons = {g[4] for g in got[0] if g[3] == "dead_letter"}
    assert {"invalid_json", "duplicate_id", "key_mismatch", "empty", "too_large", "wrong_type"} <= reasons
    assert sum(g[9] for g in got[0]) > 50  # evolved records
    assert lazy > 200  # hundreds went the columnar way (not those of batches with text, nor of small batches)


def test_a_struct_is_taken_only_where_the_exact_decode_gives_the_same_record():
    decoder = RecordDecoder(max_feature_name_length=8)
    columnar = ColumnarDecoder(decoder)
    assert not columnar.learn(decoder.decode(b'{"id": "a", "features": {"x": 1}, "text": "t"}'))
    assert not columnar.learn(decoder.decode(b'{"id": "a", "features": {"x": 1}, "metadata": {"m": 1}}'))
    assert not columnar.learn(decoder.decode(b'{"id": "a", "features": {"c=red": 1}}'))
    assert columnar.names is None
    assert columnar.learn(decoder.decode(b'{"id": "a", "features": {"x": 1, "class": 2.5, "c": "red"}}'))
    values = [
        b'{"id": "b", "features": {"c": "blue", "class": 1, "x": -0.0}, "timestamp": 3, "source": "s"}',
        b'{"id": "c", "features": {"x": 1, "class": 2.5}}', b'{"id": "d", "features": {"x": 1, "class": 2.5, "c": 1}}',
        b'{"id": "e", "features": {"x": 1, "class": 2.5, "c": "r", "y": 1}}', b'{"id": "f", "features": {"x": 1, "class": 2.5, "c": "r"}, "z": 1}',
        b'{"id": "g", "features": {"x": 1, "class": 2.5, "c": "r"}, "schema_version": "1.1"}',
        b'{"id": "h", "features": {"x": 9223372036854775808, "class": 2.5, "c": "r"}}',
        b'{"id": "i", "features": {"x": 1, "class": 2.5, "c": "r"}}',
    ]
    typed = columnar.decode_many(values, [None] * 7 + [b"other"])
    assert [t is not None for t in typed] == [True] + [False] * 7
    batch = ColumnarBatch([typed[0]], values[:1], columnar)
    assert batch[0] == decoder.decode(values[0]) and type(batch[0]) is Record
    assert list(batch[0].features) == ["c", "class", "x"]  # the exact decode's record: the value's order


def test_the_matrix_of_the_columns_is_the_matrix_of_the_features_to_the_bit():
    decoder = RecordDecoder()
    values = [orjson.dumps(payload) for payload, _ in synthetic_records(300, seed=4)]
    values[5] = values[5].replace(b'"f01":', b'"f01":4611686018427387905,"f01":', 1)  # an int, last wins in both
    values[9] = values[9].replace(b'"colour":"', b'"colour":"mauve', 1)
    values[20] = values[20].replace(b'"f02":', b'"f02":"x","f02":', 1)  # the exact way (a string first)
    records = [decoder.decode(value) for value in values]
    columnar = ColumnarDecoder(decoder)
    assert columnar.learn(records[0])
    typed = columnar.decode_many(values, [None] * len(values))
    assert typed[20] is None and all(t is not None for i, t in enumerate(typed) if i != 20)
    items = [record if t is None else t for record, t in zip(records, typed, strict=True)]
    index = {name: i for i, name in enumerate(["f00", "f01", "f02", "colour=red", "colour=blue", "f19", "gone"])}
    expected = InputMatrix(index).build([record.features for record in records])
    got = ColumnarBatch(items, values, columnar).matrix(InputMatrix(index))
    assert got.tobytes() == expected.tobytes()
    assert msgspec.json.decode(values[5])["features"]["f01"] == records[5].features["f01"]


@pytest.mark.parametrize("with_records", [False, True])
def test_the_packed_numbers_are_float_of_each_value_with_strings_between_them(with_records):
    """The columns come out of a struct whose numbers are packed as doubles (strings anywhere among them): the
    matrix is build()'s to the bit, for ints at the 64-bit ends and past 2**53, -0.0, the float extremes."""
    decoder = RecordDecoder()
    numbers = [0, 1, -1, 2**63 - 1, -(2**63) + 1, 2**53 + 1, -(2**53) - 3, -0.0, 1e308, -1e308, 5e-324, 0.1, 1 / 3, 123456789.125]
    rng = random.Random(7)
    values = [
        json.dumps({"id": f"r{i}", "features": {"a": rng.choice(numbers), "c": rng.choice(["red", "blue", "new"]),
                                                "b": rng.choice(numbers), "d": rng.choice(["x", "y"]), "e": rng.choice(numbers)}},
                   separators=(",", ":")).encode()
        for i in range(200)
    ]
    records = [decoder.decode(value) for value in values]
    columnar = ColumnarDecoder(decoder)
    assert columnar.learn(records[0])
    typed = columnar.decode_many(values, [None] * len(values))
    assert all(t is not None for t in typed)
    items = [record if with_records and i % 3 == 0 else t for i, (record, t) in enumerate(zip(records, typed, strict=True))]
    index = {name: i for i, name in enumerate(["e", "c=red", "a", "d=y", "c=blue", "gone", "d=x"])}  # b: not an input
    expected = InputMatrix(index).build([record.features for record in records])
    got = ColumnarBatch(items, values, columnar).matrix(InputMatrix(index))
    assert got.tobytes() == expected.tobytes()
    assert {type(v) for record in records for v in record.features.values()} == {int, float, str}


def test_lazy_routed_made_many_at_once_are_those_made_one_by_one():
    decoder = RecordDecoder()
    values = [orjson.dumps(payload) for payload, _ in synthetic_records(20, seed=2)]
    columnar = ColumnarDecoder(decoder)
    assert columnar.learn(decoder.decode(values[0]))
    batch = ColumnarBatch(columnar.decode_many(values, [None] * 20), values, columnar)
    predictions, decisions, votes = [object() for _ in range(20)], [object() for _ in range(20)], [None] * 20
    many = LazyRouted.make_many(batch, predictions, decisions, votes)
    one = [LazyRouted.make(batch, i, p, d, v) for i, (p, d, v) in enumerate(zip(predictions, decisions, votes, strict=True))]
    fields = ("prediction", "decision", "votes", "_batch", "_at")
    assert [type(r) for r in many] == [LazyRouted] * 20
    assert [[getattr(r, f) for f in fields] for r in many] == [[getattr(r, f) for f in fields] for r in one]
    assert [r.record for r in many] == [decoder.decode(value) for value in values]
