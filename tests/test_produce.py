"""`labelstream produce` against the real broker."""

import base64
import csv
import json
import random
import subprocess
import sys

import jsonschema
import orjson

from labelstream.core.schemas import DeadLetter
from labelstream.kafka.reader import read_all
from stack_support import REPO


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
    assert result.returncode == 0, result.stderr
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
