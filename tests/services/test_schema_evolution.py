"""Producers evolve their records (fields added, a newer minor version): the real labeler routes them, nothing is lost.

The rule is in docs/schema-evolution.md; the decoder's unit tests are in tests/core/test_decode.py.
"""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from confluent_kafka import Producer

from labelstream.core.schemas import Record
from labelstream.kafka.config import producer_config
from labelstream.kafka.outcomes import read_ledger
from labelstream.processes import service

pytestmark = pytest.mark.integration

FEATURES = {"x0": 0.3, "x1": -1.2, "colour": "red"}


def wait_for(condition, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_labeler_routes_records_with_added_fields_and_dead_letters_a_newer_major(settings_factory, tmp_path):
    settings = settings_factory()
    plain = {f"p{i}": {"id": f"p{i}", "features": FEATURES} for i in range(10)}
    evolved = {
        f"e{i}": {"schema_version": "1.3", "id": f"e{i}", "features": FEATURES, "shop": f"s{i}", "tags": ["a", i]}
        for i in range(10)
    }
    unversioned = {f"u{i}": {"id": f"u{i}", "features": FEATURES, "priority": i} for i in range(10)}
    newer_major = orjson.dumps({"schema_version": "2.0", "id": "m2", "vector": [1, 2]})
    expected = plain | evolved | unversioned

    labeler = service(settings, "labeler", tmp_path / "logs", instance="0").start()
    try:
        labeler.wait_until_serving(120)
        producer = Producer(producer_config(settings.kafka))
        for record_id, payload in expected.items():
            producer.produce(settings.topics.records, key=record_id.encode(), value=orjson.dumps(payload))
        producer.produce(settings.topics.records, key=b"m2", value=newer_major)
        assert producer.flush(30) == 0
        ledger = wait_for(
            lambda: (ledger := read_ledger(settings)) and len(ledger.routing) >= len(expected) and ledger.dead_letters and ledger,
            120, "every record routed and the newer major dead-lettered",
        )
        assert labeler.alive
    finally:
        labeler.stop(20)

    assert ledger.missing(expected) == set() and ledger.duplicated() == {}
    assert set(ledger.routing) == set(expected)
    carried = {i: value["record"] for i, value in ledger.routed.items() if "record" in value}  # review and deferred carry the record
    assert carried, "some records went to review or deferred, where the record itself is forwarded"
    for record_id, forwarded in carried.items():
        assert forwarded == expected[record_id], "forwarded as produced"
        added = {name: value for name, value in forwarded.items() if name not in ("schema_version", "id", "features")}
        read = Record.model_validate(forwarded)  # what a reader of review/deferred gets
        assert read.metadata == {name: value if not isinstance(value, list) else orjson.dumps(value).decode() for name, value in added.items()}
        assert read.schema_version == 1 and read.features == FEATURES

    [letter] = ledger.dead_letters
    assert letter["error_kind"] == "unsupported_schema_version"
    assert "major version 2" in letter["error"]
    assert base64.b64decode(letter["raw"]) == newer_major, "the DLQ keeps the bytes: replayable once the services read 2.x"
