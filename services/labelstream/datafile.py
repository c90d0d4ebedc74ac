"""Reading labeled or unlabeled data files (CSV or JSONL) as records.

Each row becomes a :class:`Row`: its first line number, the original bytes,
and either a record payload (id, features, and the label when a label column
is named) or the reason it is not one. CSV cells are typed: an integer, a
float, or else a string; an empty cell is a missing feature. A CSV row may
span lines (a quoted cell with line breaks). Files may be gzip or bzip2
compressed (``.gz``, ``.bz2``), ``-`` is standard input, and ``encoding`` names
the text encoding (a row that does not decode is an invalid row, not an
abort). With :class:`ColumnTypes` a column keeps one type for the whole file.

>>> import io
>>> rows = list(read_rows(io.BytesIO(b"id,x,colour,y\\n1,0.5,red,yes\\n2,oops\\n"), "csv", label_column="y", id_column="id"))
>>> rows[0].payload, rows[0].label
({'id': '1', 'features': {'x': 0.5, 'colour': 'red'}}, 'yes')
>>> rows[1].error
'expected 4 columns, found 2'
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import sys
from collections.abc import Iterator, Mapping
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


COLUMN_TYPES = ("number", "integer", "string", "boolean")
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


class ColumnTypes:
    """Each feature column keeps one type for the whole file: the declared one, or the first one seen.

    A declared type (``number``, ``integer``, ``string``, ``boolean``) comes
    from ``--schema`` or the ``produce.columns`` setting; an undeclared column
    takes the type of its first value (a number, or a string). A value that
    does not fit its column's type makes the row invalid (``type_mismatch``)
    instead of silently turning a numeric feature into a categorical one. A
    number in a string column is kept as its text (``"7"`` is a category).

    >>> text = "id,x,zip\\n1,0.5,02139\\n2,abc,10001\\n3,7,x\\n"
    >>> rows = rows_from_text(text, "csv", id_column="id", types=ColumnTypes({"zip": "string"}))
    >>> rows[0].payload["features"], rows[1].error, rows[2].payload["features"]
    ({'x': 0.5, 'zip': '02139'}, "column 'x' holds numbers (since line 2), not 'abc'", {'x': 7, 'zip': 'x'})
    """

    def __init__(self, declared: Mapping[str, str] | None = None) -> None:
        declared = dict(declared or {})
        unknown = {c: t for c, t in declared.items() if t not in COLUMN_TYPES}
        if unknown:
            column, kind = next(iter(unknown.items()))
            raise InputFileError(f"column {column!r}: unknown type {kind!r}; use one of {', '.join(COLUMN_TYPES)}")
        self.declared = declared
        self.seen: dict[str, tuple[str, int]] = {}  # undeclared column -> (type, the line that set it)

    def check(self, row: Row) -> Row:
        """``row`` with its features converted to their column types, or an invalid row saying which cell did not fit."""
        features = dict(row.payload["features"])
        for column, value in features.items():
            if value is None:
                continue
            converted = self._convert(column, value, row.line)
            if isinstance(converted, str) and converted.startswith("\0"):
                return Row(row.line, row.raw, error=converted[1:], error_kind="type_mismatch")
            features[column] = converted
        return Row(row.line, row.raw, {**row.payload, "features": features}, row.label)

    def _convert(self, column: str, value: Any, line: int) -> Any:
        kind = self.declared.get(column)
        since = ""
        if kind is None:
            first = "number" if _is_number(_typed(value) if isinstance(value, str) else value) else "string"
            kind, first_line = self.seen.setdefault(column, (first, line))
            since = f" (since line {first_line})"
        if kind == "string":
            return value if isinstance(value, str) else _text_of(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            return f"\0column {column!r} holds booleans{since}, not {value!r}"
        number = _typed(value) if isinstance(value, str) else value
        if not _is_number(number):
            plural = "integers" if kind == "integer" else "numbers"
            return f"\0column {column!r} holds {plural}{since}, not {value!r}"
        if kind == "integer":
            if float(number) != int(number):
                return f"\0column {column!r} holds integers, not {value!r}"
            return int(number)
        return number


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_of(value: Any) -> str:
    """A JSON value as the text a CSV cell would hold (``true`` -> ``"True"``, ``7`` -> ``"7"``)."""
    return str(value)


def load_column_types(path: str | Path) -> dict[str, str]:
    """A ``--schema`` file: a JSON object of column name -> type (or ``{"columns": {...}}``)."""
    path = Path(path)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such schema file") from None
    except orjson.JSONDecodeError as exc:
        raise InputFileError(f"{path}: not JSON ({exc}); write {{\"column\": \"number\", ...}}") from None
    columns = data.get("columns", data) if isinstance(data, dict) else None
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InputFileError(f"{path}: expected a JSON object of column name -> type ({', '.join(COLUMN_TYPES)})")
    ColumnTypes(columns)  # checks the type names
    return columns


COMPRESSION = {".gz": gzip.open, ".bz2": bz2.open}
STDIN = "-"


def detect_format(path: Path) -> FileFormat:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in COMPRESSION]
    if ".csv" in suffixes:
        return "csv"
    if ".jsonl" in suffixes or ".ndjson" in suffixes or ".json" in suffixes:
        return "jsonl"
    raise InputFileError(f"{path}: unknown file type; use a .csv or .jsonl file (optionally .gz or .bz2)")


def open_binary(path: str | Path) -> IO[bytes]:
    """The file's bytes, decompressed by its suffix (``.gz``, ``.bz2``); ``-`` is standard input."""
    if str(path) == STDIN:
        return sys.stdin.buffer
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file; check the path")
    opener = COMPRESSION.get(path.suffix.lower())
    return opener(path, "rb") if opener else path.open("rb")


def sniff_format(handle: IO[bytes]) -> FileFormat:
    """JSONL when the first non-blank byte is ``{`` (for standard input, which has no extension), else CSV."""
    peek = getattr(handle, "peek", None)
    head = peek(4096) if peek else b""
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


def open_rows(
    path: str | Path,
    label_column: str | None = None,
    id_column: str | None = None,
    text_column: str | None = None,
    encoding: str = "utf-8",
    fmt: FileFormat | None = None,
    types: ColumnTypes | None = None,
) -> Iterator[Row]:
    """Rows of a CSV or JSONL file (format from the extension, or ``fmt``; ``-``: standard input)."""
    _check_encoding(encoding)
    handle = open_binary(path)
    if fmt is None:
        fmt = sniff_format(handle) if str(path) == STDIN else detect_format(Path(path))
    prefix = "stdin" if str(path) == STDIN else Path(path).name.split(".")[0]
    return _closing(handle, read_rows(handle, fmt, label_column, id_column, text_column, prefix, encoding, types))


def count_rows(path: str | Path) -> int | None:
    """Non-empty data lines of a file (without a CSV's header), for progress bars; ``None`` for standard input."""
    if str(path) == STDIN:
        return None
    path = Path(path)
    with open_binary(path) as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(lines - (1 if detect_format(path) == "csv" else 0), 0)


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(f"unknown encoding {encoding!r}; use a Python codec name such as utf-8, latin-1") from None


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
    encoding: str = "utf-8",
    types: ColumnTypes | None = None,
) -> Iterator[Row]:
    """Rows of an open binary file; ids default to ``<id_prefix>-<line>`` (stable across runs)."""
    if fmt == "csv":  # with column types the cells stay text until their column's type says what they are
        rows = _csv_rows(handle, label_column, id_column, text_column, id_prefix, encoding, typed=types is None)
    else:
        rows = _jsonl_rows(handle, label_column, id_column, text_column, id_prefix, encoding)
    for row in rows:
        yield row if types is None or row.payload is None else types.check(row)


class _Taken:
    """An iterator over text lines that remembers the lines the CSV reader took for the current row."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _Taken:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line


def _csv_rows(
    handle: IO[bytes], label_column: str | None, id_column: str | None, text_column: str | None, id_prefix: str,
    encoding: str = "utf-8",
    typed: bool = True,
) -> Iterator[Row]:
    # surrogateescape: a byte the encoding cannot read stays in its row (an invalid row), not an abort
    text = io.TextIOWrapper(handle, encoding=encoding, errors="surrogateescape", newline="")
    lines = _Taken(iter(text))
    reader = csv.reader(lines)
    header = next(reader, [])
    if not header:
        raise InputFileError("the CSV file is empty; its first line must name the columns (e.g. id,x1,x2,label)")
    header[0] = header[0].lstrip("\ufeff")  # a byte-order mark
    for column, flag in ((label_column, "--label-column"), (id_column, "--id-column"), (text_column, "--text-column")):
        if column is not None and column not in header:
            raise InputFileError(f"{flag} {column!r} is not a column; columns are: {', '.join(header)}")
    number = reader.line_num + 1
    while True:
        lines.taken.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raw = "".join(lines.taken).encode(encoding, "surrogateescape")
            yield Row(number, raw, error=str(exc), error_kind="malformed_row")
            number = reader.line_num + 1
            continue
        row_text = "".join(lines.taken)
        raw = row_text.encode(encoding, "surrogateescape")
        line, number = number, reader.line_num + 1
        if not cells or not row_text.strip():
            continue
        if _undecodable(row_text):
            yield Row(line, raw, error=f"not valid {encoding} text", error_kind="encoding")
            continue
        if len(cells) != len(header):
            yield Row(line, raw, error=f"expected {len(header)} columns, found {len(cells)}", error_kind="malformed_row")
            continue
        values = {name: _typed(cell) if typed else cell for name, cell in zip(header, cells, strict=True) if cell != ""}
        yield _row_from_mapping(line, raw, values, label_column, id_column, text_column, id_prefix)


def _undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes its encoding could not read (kept as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _jsonl_rows(
    handle: IO[bytes], label_column: str | None, id_column: str | None, text_column: str | None, id_prefix: str,
    encoding: str = "utf-8",
) -> Iterator[Row]:
    utf8 = codecs.lookup(encoding).name == "utf-8"
    for number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw if utf8 else raw.decode(encoding))
        except UnicodeDecodeError:
            yield Row(number, raw, error=f"not valid {encoding} text", error_kind="encoding")
            continue
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
    if record_id is None or not str(record_id).strip():
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
