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


def test_an_empty_csv_says_what_its_first_line_must_be():
    with pytest.raises(InputFileError, match=r"^the CSV file is empty; its first line must name the columns \(e.g. id,x1,x2,label\)$"):
        rows_from_text("", "csv")


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


def test_csv_quoted_cells_span_lines_and_keep_their_line_number():
    rows = rows_from_text('id,note,x\n1,"a\nb, c",2\n2,"""q""",3\n', "csv", id_column="id")
    assert [r.line for r in rows] == [2, 4]
    assert rows[0].payload["features"] == {"note": "a\nb, c", "x": 2} and rows[1].payload["features"]["note"] == '"q"'
    assert rows[0].raw == b'1,"a\nb, c",2\n'


def test_undecodable_text_is_an_invalid_row_not_an_abort(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"id,x\n1,caf\xe9\n2,ok\n")
    rows = list(open_rows(path, id_column="id"))
    assert rows[0].error_kind == "encoding" and rows[1].payload["features"] == {"x": "ok"}
    assert list(open_rows(path, id_column="id", encoding="latin-1"))[0].payload["features"] == {"x": "café"}


def test_compressed_files_read_by_suffix(tmp_path):
    import bz2
    import gzip

    for name, compress in (("d.csv.gz", gzip.compress), ("d.jsonl.bz2", bz2.compress)):
        path = tmp_path / name
        body = b"id,x\n1,2\n" if ".csv" in name else b'{"id": "1", "x": 2}\n'
        path.write_bytes(compress(body))
        assert [r.payload for r in open_rows(path, id_column="id")] == [{"id": "1", "features": {"x": 2}}]


def test_a_column_keeps_its_type():
    from labelstream.datafile import ColumnTypes

    text = "id,n,c,z,b\n1,1,red,007,yes\n2,abc,5,08,no\n3,2.5,blue,9,maybe\n"
    rows = rows_from_text(text, "csv", id_column="id", types=ColumnTypes({"z": "string", "b": "boolean"}))
    assert rows[0].payload["features"] == {"n": 1, "c": "red", "z": "007", "b": True}
    assert rows[1].error_kind == "type_mismatch" and "column 'n' holds numbers (since line 2), not 'abc'" in rows[1].error
    assert rows[2].error_kind == "type_mismatch" and "column 'b' holds booleans" in rows[2].error
    with pytest.raises(InputFileError, match="unknown type 'float'"):
        ColumnTypes({"x": "float"})


def test_blank_ids_are_invalid():
    rows = rows_from_text("id,x\n  ,1\n", "csv", id_column="id")
    assert rows[0].error_kind == "missing_id"
