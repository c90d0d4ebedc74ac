"""`labelstream produce` against the real broker."""

import base64
import bz2
import csv
import gzip
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import orjson
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from labelstream.core.schemas import DeadLetter
from labelstream.kafka.reader import read_all
from stack_support import REPO, closed_port

pytestmark = pytest.mark.integration


def run_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "labelstream", *args], capture_output=True, text=True, env=env, check=False)


def test_10k_csv_rows_arrive_keyed_and_valid(tmp_path, stack_settings, cli_env):
    path = tmp_path / "records.csv"
    rng = random.Random(1)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", *[f"f{i}" for i in range(12)], "colour", "label"])
        for i in range(10_000):
            writer.writerow([f"id-{i}", *[round(rng.gauss(0, 1), 4) for _ in range(12)], rng.choice("rgb"), rng.choice("ab")])
    result = run_cli(cli_env, "produce", str(path), "--id-column", "record_id", "--label-column", "label")
    assert result.returncode == 0, result.stderr
    assert "10000" in result.stdout

    schema = json.loads((REPO / "schemas" / "records.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    messages = read_all(stack_settings.kafka, stack_settings.topics.records)
    assert len(messages) == 10_000
    ids = set()
    for msg in messages:
        value = orjson.loads(msg.value())
        validator.validate(value)
        assert msg.key().decode() == value["id"]
        assert "label" not in value["features"] and "record_id" not in value["features"]
        ids.add(value["id"])
    assert ids == {f"id-{i}" for i in range(10_000)}


MALFORMED_KINDS = {
    "nan": lambda i: f'{{"id": "m{i}", "features": {{"x": NaN}}}}',
    "null_id": lambda i: '{"id": null, "features": {"x": 1}}',
    "wrong_type": lambda i: f'{{"id": "m{i}", "features": {{"x": [1, 2]}}}}',
    "not_json": lambda i: f'{{"id": "m{i}", "features": ',
    "not_object": lambda i: f"[{i}]",
    "newer_major": lambda i: f'{{"schema_version": "2.0", "id": "m{i}", "features": {{"x": 1}}}}',  # an added field is fine (metadata)
    "no_features": lambda i: f'{{"id": "m{i}", "features": {{}}}}',
    "huge": lambda i: f'{{"id": "m{i}", "features": {{"x": "{"y" * 70_000}"}}}}',
}


def test_200_malformed_rows_are_reported_and_dead_lettered(tmp_path, stack_settings, cli_env):
    path = tmp_path / "bad.jsonl"
    lines, expected_bad = [], {}
    kinds = list(MALFORMED_KINDS)
    for i in range(400):
        if i % 2:
            kind = kinds[(i // 2) % len(kinds)]
            lines.append(MALFORMED_KINDS[kind](i))
            expected_bad[i + 1] = kind
        else:
            lines.append(json.dumps({"id": f"ok{i}", "features": {"x": i, "c": "k"}}))
    path.write_text("\n".join(lines) + "\n")

    result = run_cli(cli_env, "produce", str(path), "--dlq", "--show-invalid", "500")
    assert result.returncode == 3, result.stderr  # every valid row delivered, some rows invalid
    output = result.stdout
    for line in expected_bad:
        assert f"line {line}:" in output, f"line {line} not reported"
    assert len(expected_bad) == 200

    letters = [DeadLetter.model_validate_json(m.value()) for m in read_all(stack_settings.kafka, stack_settings.topics.dlq)]
    assert len(letters) == 200
    raw_lines = {line.encode() for i, line in enumerate(lines) if i + 1 in expected_bad}
    assert {letter.raw_bytes().rstrip(b"\n") for letter in letters} == raw_lines
    assert all(letter.error and letter.error_kind for letter in letters)
    assert len({letter.error_kind for letter in letters}) >= 6

    records = read_all(stack_settings.kafka, stack_settings.topics.records)
    assert len(records) == 200
    assert base64.b64decode(letters[0].raw)  # original bytes kept


def records_by_id(settings) -> dict[str, list[dict]]:
    by_id: dict[str, list[dict]] = {}
    for msg in read_all(settings.kafka, settings.topics.records):
        value = orjson.loads(msg.value())
        assert msg.key().decode() == value["id"]
        by_id.setdefault(value["id"], []).append(value)
    return by_id


def test_compressed_multiline_typed_csv_with_duplicate_and_blank_ids(tmp_path, stack_settings, cli_env):
    """gzip, quoted cells with line breaks, a latin-1 file, abc in a numeric column, duplicate and blank ids."""
    text = (
        'id,amount,note,label\n'
        'a1,1.5,"two\nlines, and a comma",x\n'
        'a2,abc,plain,y\n'               # abc in a numeric column: invalid, not a category
        'a3,7,"caf\u00e9 ""quoted""",x\n'
        'a1,2.0,again,y\n'               # duplicate id
        ' ,3.0,blank id,x\n'             # blank id
        'a4,,"missing amount\n\nthree lines",y\n'
    )
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(text.encode("latin-1"))
    result = run_cli(cli_env, "produce", str(path), "--id-column", "id", "--label-column", "label", "--encoding", "latin-1",
                     "--json")
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert report["sent"] == 3 and report["invalid"] == 3
    reasons = {row["line"]: row["reason"] for row in report["invalid_rows"]}
    assert reasons[4].startswith("type_mismatch: column 'amount' holds numbers (since line 2)")
    assert reasons[6].startswith("duplicate_id: id 'a1' is also on line 2")
    assert reasons[7].startswith("missing_id")
    records = records_by_id(stack_settings)
    assert sorted(records) == ["a1", "a3", "a4"] and all(len(v) == 1 for v in records.values())
    assert records["a1"][0]["features"] == {"amount": 1.5, "note": "two\nlines, and a comma"}
    assert records["a3"][0]["features"] == {"amount": 7, "note": 'caf\u00e9 "quoted"'}
    assert records["a4"][0]["features"] == {"note": "missing amount\n\nthree lines"}


def test_declared_schema_stdin_and_bz2(tmp_path, stack_settings, cli_env):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"zip": "string", "n": "integer"}))
    rows = '{"id": "j1", "zip": "02139", "n": 3}\n{"id": "j2", "zip": 10001, "n": 4.5}\n{"id": "j3", "zip": "x", "n": "5"}\n'
    stdin = subprocess.run([sys.executable, "-m", "labelstream", "produce", "-", "--id-column", "id", "--schema", str(schema)],
                           input=rows, capture_output=True, text=True, env=cli_env, check=False)
    assert stdin.returncode == 3, stdin.stderr
    assert "line 2: type_mismatch: column 'n' holds integers" in stdin.stdout
    path = tmp_path / "more.jsonl.bz2"
    path.write_bytes(bz2.compress(b'{"id": "j4", "zip": 2139, "n": 1}\n'))
    # the same types from the produce.columns setting instead of --schema (zip 2139 arrives as the string "2139")
    columns = json.dumps({"zip": "string", "n": "integer"})
    assert run_cli({**cli_env, "LABELSTREAM_PRODUCE__COLUMNS": columns}, "produce", str(path), "--id-column", "id").returncode == 0
    features = {i: v[0]["features"] for i, v in records_by_id(stack_settings).items()}
    assert features == {"j1": {"zip": "02139", "n": 3}, "j3": {"zip": "x", "n": 5}, "j4": {"zip": "2139", "n": 1}}


def refuse_writes(settings, topic: str, refuse: bool) -> None:
    """The broker refuses every write to ``topic`` (its max.message.bytes below any batch), or accepts them again."""
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    operation = AlterConfigOpType.SET if refuse else AlterConfigOpType.DELETE
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("max.message.bytes", "64", incremental_operation=operation)
    ])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)


def count_messages(settings, topic: str) -> int:
    try:
        return len(read_all(settings.kafka, topic, timeout=5))
    except KafkaException:  # a fresh reader's metadata can be a moment behind: ask again
        return 0


def write_ids_csv(path: Path, n: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "x"])
        writer.writerows([f"r{i}", i] for i in range(n))


def test_a_run_the_broker_stops_confirming_is_resumed_without_duplicates(tmp_path, stack_settings, cli_env):
    """Mid-run the broker refuses the topic's writes: exit 4, the rest listed; --resume sends them, each once."""
    n = 3000
    path = tmp_path / "rows.csv"
    write_ids_csv(path, n)
    topic = stack_settings.topics.records
    run = subprocess.Popen([sys.executable, "-m", "labelstream", "produce", str(path), "--id-column", "id", "--rate", "200",
                            "--timeout", "4", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env)
    deadline = time.monotonic() + 60
    while count_messages(stack_settings, topic) < 300 and time.monotonic() < deadline:
        time.sleep(0.2)
    refuse_writes(stack_settings, topic, True)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 4, (out, err)
    report = json.loads(out)
    state_file = Path(f"{path}.produce-state.json")
    assert report["state_file"] == str(state_file) and state_file.is_file()
    assert 300 <= report["sent"] < n and report["undelivered"] > 0
    assert "not delivered" in err and "--resume" in err
    first = records_by_id(stack_settings)
    assert len(first) == report["sent"]

    refuse_writes(stack_settings, topic, False)
    resumed = run_cli(cli_env, "produce", str(path), "--id-column", "id", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["skipped"] == report["sent"] and again["sent"] == n - report["sent"]
    records = records_by_id(stack_settings)
    assert sorted(records) == sorted(f"r{i}" for i in range(n))
    assert all(len(v) == 1 for v in records.values()), "no row sent twice"
    assert not state_file.exists(), "a complete resume removes the state"


def test_resume_skips_rows_in_doubt_that_did_arrive(tmp_path, stack_settings, cli_env):
    """A row sent but never confirmed may still be on the broker: --resume looks after the last confirmed offset."""
    path = tmp_path / "rows.csv"
    write_ids_csv(path, 200)
    assert run_cli(cli_env, "produce", str(path), "--id-column", "id").returncode == 0
    from labelstream.produce_state import ProduceState, file_size

    # as if the run had lost every confirmation after line 101 (id r99), and sent nothing after line 150
    state = ProduceState(file=str(path), size=file_size(path), topic=stack_settings.topics.records,
                         start_offsets={p: 0 for p in range(3)}, unsent_from_line=151,
                         undelivered=[{"line": line, "id": f"r{line - 2}", "reason": "timed out"} for line in range(102, 151)])
    state.mark_delivered(range(2, 102))
    state.save()
    resumed = run_cli(cli_env, "produce", str(path), "--id-column", "id", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["skipped"] == 200 and report["sent"] == 0
    assert all(len(v) == 1 for v in records_by_id(stack_settings).values())


def test_resume_needs_a_state_and_the_same_file(tmp_path, cli_env):
    path = tmp_path / "rows.csv"
    write_ids_csv(path, 3)
    result = run_cli(cli_env, "produce", str(path), "--resume")
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "no state to resume from" in result.stderr


def test_a_missing_topic_is_one_error_not_a_wait(tmp_path, cli_env):
    path = tmp_path / "rows.csv"
    write_ids_csv(path, 3)
    result = run_cli({**cli_env, "LABELSTREAM_TOPICS__RECORDS": "no-such-topic-here"}, "produce", str(path))
    assert result.returncode == 2 and "topic 'no-such-topic-here' does not exist" in result.stderr, result.stderr




def test_librdkafka_log_lines_go_to_a_logger_not_stderr(stack_settings, caplog, monkeypatch):
    """librdkafka's own lines ('%4|...|GETPID|...' while a broker loads its coordinator) printed between produce's
    output; they go to a logger now, silent unless logging is configured. Here: a bootstrap server that refuses."""
    import logging

    from labelstream import produce

    closed = closed_port()
    monkeypatch.setattr(produce, "require_kafka", lambda kafka: None)  # it would stop the run before the producer
    kafka = stack_settings.kafka.model_copy(update={"bootstrap_servers": f"localhost:{closed}"})
    run = produce.ProduceRun(stack_settings.model_copy(update={"kafka": kafka}), "test")
    try:
        with caplog.at_level(logging.DEBUG, logger=produce.log.name):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(f":{closed}" in r.getMessage() for r in caplog.records):
                run.producer.poll(0.5)
        assert any(r.name == produce.log.name and f":{closed}" in r.getMessage() for r in caplog.records)
    finally:
        run.producer.flush(0)
