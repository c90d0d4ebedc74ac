"""Bad input against the running labeler and learner: each payload on the DLQ with its reason and bytes; nothing crashes."""

from __future__ import annotations

import base64
import csv
import random
import time
from collections import Counter

import orjson
import pytest
from confluent_kafka import KafkaException, Producer
from fault_harness import Services, registry_for, wait_for, write_figures, write_stream
from prometheus_client.parser import text_string_to_metric_families

from labelstream.core.build import build_engine
from labelstream.core.decode import DecodeError, RecordDecoder
from labelstream.core.schemas import Record
from labelstream.core.snapshot import ModelState
from labelstream.kafka.config import producer_config
from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.reader import read_all

pytestmark = pytest.mark.faults

MAX_FLOAT = 1.7976931348623157e308
VALID = {"x0": 0.3, "x1": -1.2, "x2": 0.5, "x3": 0.1, "colour": "red"}


def valid(record_id: str) -> bytes:
    return orjson.dumps({"id": record_id, "features": VALID})


def hand_made() -> list[tuple[bytes | None, bytes | None]]:
    """(value, key): every kind of bad record named in the issue."""
    return [
        (b"", b"e1"),
        (None, b"e2"),  # a tombstone: no value at all
        (b"{", None),  # malformed JSON, null key
        (b'{"id": "w1", "features": {"x0": "1", "x1": [1]}}', b"w1"),
        (b'{"id": 5, "features": {"x0": 1}}', None),
        (b'{"id": "n1", "features": {"x0": NaN}}', b"n1"),
        (b'{"id": "n2", "features": {"x0": -Infinity}}', b"n2"),
        (b'{"id": "n3", "features": {"x0": 1e400}}', b"n3"),
        (b'{"id": "h1", "features": {"x0": ' + b"9" * 500 + b"}}", b"h1"),
        (b'{"id": "h2", "features": {"x0": "' + b"s" * 5000 + b'"}}', b"h2"),
        (b'{"id": "d1", "features": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3001, b"d1"),
        (b"[" * 50_000, None),
        (b'{"id": "u1", "features": {"x0": 1}, "colour": "red"}', b"u1"),
        (b'{"features": {"x0": 1}}', None),
        (b'{"id": "", "features": {"x0": 1}}', None),
        (b'{"id": "k1", "features": {"x0": 1}}', b"another-id"),
        (b'{"id": "\xff\xfe", "features": {"x0": 1}}', None),
        (b"\xc3\x28\xa0\xa1", b"\xff"),
        (b'{"id": "f0", "features": {}}', b"f0"),
        (b'{"id": "big", "features": {"x0": 1}, "text": "' + b"t" * 100_000 + b'"}', b"big"),  # over limits.max_record_bytes
    ]


def random_payloads(n: int, seed: int) -> list[tuple[bytes | None, bytes | None]]:
    """Random bytes and byte-flipped valid records (some of which stay valid: those must be routed)."""
    rng = random.Random(seed)
    out: list[tuple[bytes | None, bytes | None]] = []
    for i in range(n):
        if i % 2:
            out.append((bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))), None))
        else:
            raw = bytearray(valid(f"m{i}"))
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            out.append((bytes(raw), None))
    return out


def trained_state(settings, data_path, n: int = 1500) -> ModelState:
    engine = build_engine(settings)
    with data_path.open() as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i >= n:
                break
            features = {k: (v if k == "colour" else float(v)) for k, v in row.items() if k not in ("id", "label")}
            engine.learn(features, row["label"])
    return ModelState(model=engine.model, featurizer=engine.featurizer, version=1)


def raising_features(settings, state: ModelState) -> list[dict]:
    """Valid features on which this model genuinely raises (the tree's Gaussian estimators overflow near the float maximum)."""
    engine = build_engine(settings)
    engine.swap_model(state.model, state.featurizer, {}, state.version)
    candidates = [{**VALID, name: sign * MAX_FLOAT} for name in ("x0", "x1", "x2", "x3") for sign in (1, -1)]
    candidates.append({f"x{i}": -MAX_FLOAT for i in range(4)})
    raising = []
    for features in candidates:
        try:
            engine.process([Record(id="probe", features=features)])
        except (OverflowError, ValueError, ZeroDivisionError):
            raising.append(features)
    return raising


def metric_values(text: str, name: str) -> dict[tuple, float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                values[tuple(sorted(sample.labels.items()))] = sample.value
    return values


def produce(settings, messages, topic: str) -> None:
    producer = Producer(producer_config(settings.kafka))
    for value, key in messages:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0


def test_bad_records_and_corrections_land_on_the_dlq_and_services_keep_running(settings_factory, tmp_path):
    settings = settings_factory(
        model={"name": "hoeffding_adaptive_tree"}, labels={"classes": ["pos", "neg"]}
    )
    data = tmp_path / "train.csv"
    write_stream(data, 1500, seed=3)
    state = trained_state(settings, data)
    registry_for(settings).publish(state)

    decoder = RecordDecoder.from_limits(settings.limits)
    bad = hand_made() + random_payloads(300, seed=6)
    poison = [(orjson.dumps({"id": f"poison{i}", "features": f}), f"poison{i}".encode()) for i, f in enumerate(raising_features(settings, state))]
    assert len(poison) >= 2
    expected_kind = {}
    for value, key in bad:
        result = decoder.decode(value, key)
        expected_kind[(value, key)] = result.kind if isinstance(result, DecodeError) else None
    assert sum(kind is not None for kind in expected_kind.values()) >= 250

    services = Services(settings, tmp_path / "logs")
    try:
        labeler = services.start("labeler", instance="0")
        learner = services.start("learner")
        labeler.wait_until_serving(120)
        learner.wait_until_serving(120)

        produce(settings, [(valid(f"v{i}"), f"v{i}".encode()) for i in range(20)], settings.topics.records)
        wait_for(lambda: len(read_ledger(settings).routing) >= 20, 60, "the valid records to be routed")
        produce(settings, bad + poison, settings.topics.records)

        # A message over the broker's size limit never gets in: the producer refuses it.
        with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE|too large"):
            Producer(producer_config(settings.kafka)).produce(settings.topics.records, value=b"x" * 3_000_000)

        corrections = [
            (orjson.dumps({"id": "never-routed", "label": "pos", "reviewer": "r"}), b"never-routed"),  # unknown record
            (orjson.dumps({"id": "v0", "label": "maybe", "reviewer": "r"}), b"v0"),  # label outside the label set
            (b"{", None),
            (b'{"id": "v1", "label": "pos", "reviewer": "r", "timestamp": NaN}', b"v1"),
            (b'{"id": "v2", "label": "pos", "reviewer": "r"}', b"v9"),  # key mismatch
            (orjson.dumps({"id": "v3", "label": "pos", "reviewer": "r"}), b"v3"),  # fine: learned
        ]
        produce(settings, corrections, settings.topics.corrections)
        produce(settings, [(valid(f"after{i}"), f"after{i}".encode()) for i in range(10)], settings.topics.records)

        n_record_dlq = sum(kind is not None for kind in expected_kind.values()) + len(poison)
        n_dlq = n_record_dlq + 5

        seen: list[dict] = []

        def dead_letters():
            seen[:] = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.dlq)]
            return len(seen) >= n_dlq

        try:
            wait_for(dead_letters, 120, f"{n_dlq} dead letters")
        except AssertionError:
            raise AssertionError(f"{len(seen)} of {n_dlq} dead letters: {Counter(letter['error_kind'] for letter in seen)}") from None
        routed = wait_for(
            lambda: (ledger := read_ledger(settings)) and all(f"after{i}" in ledger.routing for i in range(10)) and ledger,
            60, "records after the bad batch to be routed",
        )
        time.sleep(2)
        letters = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.dlq)]
        assert labeler.alive and learner.alive
        assert (labeler.health() or {}).get("healthy"), labeler.health()
        labeler_metrics, learner_metrics = labeler.metrics_text(), learner.metrics_text()
    finally:
        services.stop_all()

    assert len(letters) == n_dlq, Counter(letter["error_kind"] for letter in letters)
    from_labeler = [letter for letter in letters if letter["service"] == "labeler"]
    from_learner = [letter for letter in letters if letter["service"] == "learner"]

    # Every bad record: its reason and its original bytes and key.
    expected = Counter((value or b"", key, kind) for (value, key), kind in expected_kind.items() if kind is not None)
    expected.update((value, key, "model_error") for value, key in poison)
    got = Counter(
        (base64.b64decode(letter["raw"]), None if letter["key"] is None else base64.b64decode(letter["key"]), letter["error_kind"])
        for letter in from_labeler
    )
    assert got == expected
    assert all(letter["source_topic"] == settings.topics.records and letter["error"] for letter in from_labeler)
    assert all("OverflowError" in letter["error"] for letter in from_labeler if letter["error_kind"] == "model_error")
    # Valid records among the random ones were routed, exactly once.
    for (value, _key), kind in expected_kind.items():
        if kind is None:
            assert routed.routing[orjson.loads(value)["id"]] in (["label"], ["review"], ["deferred"])
    assert routed.duplicated() == {}

    assert sorted(letter["error_kind"] for letter in from_learner) == sorted(
        ["unknown_record", "unknown_label", "invalid_json", "not_finite", "key_mismatch"]
    )
    assert all(letter["source_topic"] == settings.topics.corrections for letter in from_learner)

    invalid = metric_values(labeler_metrics, "labelstream_records_invalid_total")
    assert sum(invalid.values()) == n_record_dlq
    assert invalid[(("error_kind", "model_error"),)] == len(poison)
    corrections_metric = metric_values(learner_metrics, "labelstream_corrections_total")
    for result, n in {"learned": 1, "unknown_record": 1, "unknown_label": 1, "invalid_json": 1}.items():
        assert corrections_metric[(("result", result),)] == n, corrections_metric
    figures = {"payloads": len(bad) + len(poison) + len(corrections) + 1, "dead_letters": len(letters), "crashes": 0}
    print("bad input:", figures)
    write_figures("bad_input", figures)


def test_a_record_that_makes_the_model_answer_nan_is_dead_lettered_not_published(settings_factory, tmp_path):
    """The default model on features at the float maximum answers NaN probabilities: the record goes to the DLQ."""
    settings = settings_factory(policy={"cold_start_records": 0, "cold_start_corrections": 0})
    data = tmp_path / "train.csv"
    write_stream(data, 500, seed=4)
    registry_for(settings).publish(trained_state(settings, data))
    poison = orjson.dumps({"id": "nan1", "features": {f"x{i}": MAX_FLOAT for i in range(4)}})
    services = Services(settings, tmp_path / "logs")
    try:
        labeler = services.start("labeler", instance="0")
        labeler.wait_until_serving(120)
        produce(settings, [(poison, b"nan1")] + [(valid(f"ok{i}"), f"ok{i}".encode()) for i in range(5)], settings.topics.records)
        ledger = wait_for(
            lambda: (led := read_ledger(settings)) and len(led.routing) >= 5 and led.dead_letters and led, 60,
            "the valid records routed and the poison dead-lettered",
        )
        assert labeler.alive
    finally:
        services.stop_all()
    assert [letter["error_kind"] for letter in ledger.dead_letters] == ["model_error"]
    assert base64.b64decode(ledger.dead_letters[0]["raw"]) == poison
    assert set(ledger.routing) == {f"ok{i}" for i in range(5)}
    assert all(label["confidence"] is not None for labels in ledger.auto_labels.values() for label in labels)
