import json
import subprocess
import sys

from labelstream.schema_files import check_schemas, export_schemas
from stack_support import REPO


def test_checked_in_schemas_match_the_models():
    result = subprocess.run(
        [sys.executable, "-m", "labelstream", "schemas", "check"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_fails_on_a_changed_file(tmp_path):
    export_schemas(tmp_path)
    path = tmp_path / "labels.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"].pop("confidence")
    path.write_text(json.dumps(schema))
    (tmp_path / "stale.schema.json").write_text("{}")
    problems = check_schemas(tmp_path)
    assert any("labels.schema.json: differs" in p for p in problems)
    assert any("stale.schema.json" in p for p in problems)
    result = subprocess.run(
        [sys.executable, "-m", "labelstream", "schemas", "check", "--dir", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
