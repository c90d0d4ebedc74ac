import pytest

from labelstream.datafile import open_rows, rows_from_text
from labelstream.errors import InputFileError


def test_csv_cells_are_typed_and_label_left_out():
    rows = rows_from_text("a,b,c,y\n1,2.5,red,yes\n,3,blue,no\n", "csv", label_column="y")
    assert rows[0].payload == {"id": "row-2", "features": {"a": 1, "b": 2.5, "c": "red"}}
    assert rows[0].label == "yes"
    assert rows[1].payload["features"] == {"b": 3, "c": "blue"}


def test_generated_ids_are_stable():
    text = "x\n1\n2\n"
    assert [r.payload["id"] for r in rows_from_text(text, "csv")] == [r.payload["id"] for r in rows_from_text(text, "csv")]


def test_missing_label_column_is_a_clear_error():
    with pytest.raises(InputFileError, match="--label-column 'z' is not a column"):
        rows_from_text("a,b\n1,2\n", "csv", label_column="z")


def test_jsonl_records_and_flat_objects():
    text = '{"id": "r1", "features": {"x": 1}, "label": "a"}\n{"x": 2, "label": "b"}\nnot json\n[1]\n'
    rows = rows_from_text(text, "jsonl", label_column="label")
    assert rows[0].payload == {"id": "r1", "features": {"x": 1}} and rows[0].label == "a"
    assert rows[1].payload == {"id": "row-2", "features": {"x": 2}} and rows[1].label == "b"
    assert "invalid JSON" in rows[2].error and "expected a JSON object" in rows[3].error


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match="unknown file type"):
        open_rows(path)
