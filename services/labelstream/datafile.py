"""Reading labeled or unlabeled data files (CSV or JSONL) as records.

Each line becomes a :class:`Row`: its line number, the original bytes, and
either a record payload (id, features, and the label when a label column is
named) or the reason it is not one. CSV cells are typed: an integer, a float,
or else a string; an empty cell is a missing feature.

>>> import io
>>> rows = list(read_rows(io.BytesIO(b"id,x,colour,y\\n1,0.5,red,yes\\n2,oops\\n"), "csv", label_column="y", id_column="id"))
>>> rows[0].payload, rows[0].label
({'id': '1', 'features': {'x': 0.5, 'colour': 'red'}}, 'yes')
>>> rows[1].error
'expected 4 columns, found 2'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from labelstream.errors import InputFileError

FileFormat = Literal["csv", "jsonl"]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a data file."""

    line: int
    raw: bytes
    payload: dict[str, Any] | None = None
    label: str | None = None
    error: str | None = None
    error_kind: str | None = None


def detect_format(path: Path) -> FileFormat:
    suffixes = [s.lower() for s in path.suffixes]
    if ".csv" in suffixes:
        return "csv"
    if ".jsonl" in suffixes or ".ndjson" in suffixes or ".json" in suffixes:
        return "jsonl"
    raise InputFileError(f"{path}: unknown file type; use a .csv or .jsonl file")


def open_rows(
    path: str | Path, label_column: str | None = None, id_column: str | None = None, text_column: str | None = None
) -> Iterator[Row]:
    """Rows of a CSV or JSONL file (format from the extension)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    fmt = detect_format(path)
    handle = path.open("rb")
    return _closing(handle, read_rows(handle, fmt, label_column, id_column, text_column, id_prefix=path.stem))


def count_rows(path: str | Path) -> int:
    """Non-empty data lines of a file (without a CSV's header), for progress bars."""
    path = Path(path)
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(lines - (1 if detect_format(path) == "csv" else 0), 0)


def _closing(handle: IO[bytes], rows: Iterator[Row]) -> Iterator[Row]:
    with handle:
        yield from rows


def read_rows(
    handle: IO[bytes],
    fmt: FileFormat,
    label_column: str | None = None,
    id_column: str | None = None,
    text_column: str | None = None,
    id_prefix: str = "row",
) -> Iterator[Row]:
    """Rows of an open binary file; ids default to ``<id_prefix>-<line>`` (stable across runs)."""
    reader = _csv_rows if fmt == "csv" else _jsonl_rows
    yield from reader(handle, label_column, id_column, text_column, id_prefix)


def _csv_rows(
    handle: IO[bytes], label_column: str | None, id_column: str | None, text_column: str | None, id_prefix: str
) -> Iterator[Row]:
    lines = iter(handle)
    header_raw = next(lines, b"")
    header = next(csv.reader([_text(header_raw)]), [])
    if not header:
        raise InputFileError("the CSV file is empty (no header line)")
    for column, flag in ((label_column, "--label-column"), (id_column, "--id-column"), (text_column, "--text-column")):
        if column is not None and column not in header:
            raise InputFileError(f"{flag} {column!r} is not a column; columns are: {', '.join(header)}")
    for number, raw in enumerate(lines, start=2):
        if not raw.strip():
            continue
        try:
            cells = next(csv.reader([_text(raw)]))
        except (UnicodeDecodeError, csv.Error) as exc:
            yield Row(number, raw, error=str(exc), error_kind="malformed_row")
            continue
        if len(cells) != len(header):
            yield Row(number, raw, error=f"expected {len(header)} columns, found {len(cells)}", error_kind="malformed_row")
            continue
        values = {name: _typed(cell) for name, cell in zip(header, cells, strict=True) if cell != ""}
        yield _row_from_mapping(number, raw, values, label_column, id_column, text_column, id_prefix)


def _jsonl_rows(
    handle: IO[bytes], label_column: str | None, id_column: str | None, text_column: str | None, id_prefix: str
) -> Iterator[Row]:
    for number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield Row(number, raw, error=f"invalid JSON ({exc})", error_kind="invalid_json")
            continue
        if not isinstance(obj, dict):
            yield Row(number, raw, error=f"expected a JSON object, found {type(obj).__name__}", error_kind="not_an_object")
            continue
        if "features" in obj and isinstance(obj["features"], dict):  # already a Record
            label = obj.pop(label_column, None) if label_column else None
            if label_column and label is None:
                label = obj["features"].pop(label_column, None)
            obj.setdefault("id", f"{id_prefix}-{number}")
            yield Row(number, raw, obj, None if label is None else _label(label))
            continue
        yield _row_from_mapping(number, raw, obj, label_column, id_column, text_column, id_prefix)


def _row_from_mapping(
    number: int,
    raw: bytes,
    values: dict[str, Any],
    label_column: str | None,
    id_column: str | None,
    text_column: str | None,
    id_prefix: str,
) -> Row:
    values = dict(values)
    label = values.pop(label_column, None) if label_column else None
    record_id = values.pop(id_column, None) if id_column else f"{id_prefix}-{number}"
    if record_id is None:
        return Row(number, raw, error=f"id column {id_column!r} is empty", error_kind="missing_id")
    payload: dict[str, Any] = {"id": str(record_id), "features": values}
    if text_column:
        text = values.pop(text_column, None)
        if text is not None:
            payload["text"] = str(text)
    return Row(number, raw, payload, None if label is None else _label(label))


def _label(value: Any) -> str:
    """Labels are strings; JSON booleans keep their CSV spelling (True/False)."""
    return str(value)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8").rstrip("\r\n")


def _typed(cell: str) -> int | float | str:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell


def rows_from_text(text: str, fmt: FileFormat, **columns: Any) -> list[Row]:
    """Rows of an in-memory file (tests and examples)."""
    return list(read_rows(io.BytesIO(text.encode()), fmt, **columns))
