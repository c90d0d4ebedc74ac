"""``labelstream produce FILE``: publish records from a CSV or JSONL file (or standard input)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, print_error, print_json, progress_bar, say


def produce(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A .csv (with a header line) or .jsonl file, optionally .gz or .bz2; - reads standard input.")],
    id_column: Annotated[Optional[str], typer.Option(help="Column holding the record id (default: <file>-<line>).")] = None,  # noqa: UP007
    label_column: Annotated[Optional[str], typer.Option(help="Column to leave out of the features (the true label).")] = None,  # noqa: UP007
    text_column: Annotated[Optional[str], typer.Option(help="Column to send as the record's text.")] = None,  # noqa: UP007
    source: Annotated[Optional[str], typer.Option(help="The records' source field (default: the file name).")] = None,  # noqa: UP007
    dlq: Annotated[bool, typer.Option("--dlq", help="Also publish invalid rows to the dead-letter topic.")] = False,
    show_invalid: Annotated[int, typer.Option(help="How many invalid (or undelivered) rows to list.")] = 20,
    rate: Annotated[Optional[float], typer.Option(help="Rows per second (default: as fast as possible).", min=0.001)] = None,  # noqa: UP007
    limit: Annotated[Optional[int], typer.Option(help="Stop after this many rows.", min=1)] = None,  # noqa: UP007
    encoding: Annotated[str, typer.Option(help="Text encoding of the file (utf-8-sig, latin-1, ...).")] = "utf-8",
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv or jsonl (default: from the extension; standard input: sniffed).")] = None,  # noqa: UP007
    schema: Annotated[Optional[Path], typer.Option(help="JSON file of column -> number|integer|string|boolean (default: the produce.columns setting).")] = None,  # noqa: UP007
    resume: Annotated[bool, typer.Option("--resume", help="Send only the rows an earlier run of this file did not deliver.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds a row may wait for the broker's confirmation.", min=1)] = 120.0,
    as_json: JsonFlag = False,
) -> None:
    """Validate each row and publish it to the records topic, keyed by id (idempotent, resumable).

    Exit status: 0 every row delivered; 2 a usage error (an option, a missing file or column, the
    broker unreachable); 3 every valid row delivered, some rows invalid (listed, left out, sent to
    the dead-letter topic with --dlq); 4 some rows not delivered: they are listed in
    FILE.produce-state.json, and `labelstream produce FILE --resume` sends exactly those.
    """
    from labelstream.datafile import count_rows, load_column_types
    from labelstream.errors import InputFileError
    from labelstream.produce import produce_file

    if fmt is not None and fmt not in ("csv", "jsonl"):
        raise InputFileError(f"--format {fmt!r}: use csv or jsonl")
    if file != "-" and not Path(file).is_file():
        raise InputFileError(f"file {file!r} does not exist (- reads standard input)")
    settings = state(ctx).settings()
    declared = load_column_types(schema) if schema is not None else None
    total = count_rows(file) if fmt is None else None
    if total is not None and limit is not None:
        total = min(total, limit)
    progress = progress_bar(TextColumn("[bold]producing[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with progress:
        task = progress.add_task("rows", total=total)
        report = produce_file(
            settings, file, id_column, label_column, text_column, source, dlq,
            on_row=lambda _row: progress.advance(task), rate=rate, limit=limit, encoding=encoding,
            fmt=fmt, schema=declared, resume=resume, delivery_timeout=timeout,  # type: ignore[arg-type]
        )
    if as_json:
        print_json({
            "file": file, "topic": settings.topics.records,
            "sent": report.sent, "skipped": report.skipped, "invalid": report.invalid,
            "dead_lettered": report.dead_lettered, "undelivered": len(report.undelivered),
            "unsent_from_line": report.unsent_from_line, "state_file": report.state_file,
            "errors_by_kind": dict(report.errors_by_kind.most_common()),
            "invalid_rows": [{"line": line, "reason": reason} for line, reason in report.invalid_rows[:show_invalid]],
            "undelivered_rows": [{"line": line, "id": i, "reason": why} for line, i, why in report.undelivered[:show_invalid]],
            "exit_code": report.exit_code,
        })
    else:
        _print_report(file, settings.topics.records, report, show_invalid)
    if not report.complete:
        where = f"listed in {report.state_file}; send them with: labelstream produce {file} --resume" if report.state_file \
            else "standard input cannot be resumed: produce those rows again from a file"
        unsent = f", rows from line {report.unsent_from_line} on were not sent" if report.unsent_from_line else ""
        print_error(f"{len(report.undelivered)} rows were not delivered{unsent}; {where}")
    elif report.invalid:
        say(f"{report.invalid} invalid rows were left out (exit status 3)")
    raise typer.Exit(report.exit_code)


def _print_report(file: str, topic: str, report, show_invalid: int) -> None:  # noqa: ANN001 - ProduceReport
    for line, reason in report.invalid_rows[:show_invalid]:
        print(f"line {line}: {reason}")
    if len(report.invalid_rows) > show_invalid:
        print(f"... and {len(report.invalid_rows) - show_invalid} more invalid rows")
    for line, record_id, reason in report.undelivered[:show_invalid]:
        print(f"line {line}: not delivered (id {record_id}): {reason}")
    if len(report.undelivered) > show_invalid:
        print(f"... and {len(report.undelivered) - show_invalid} more undelivered rows")
    columns = ["sent", "invalid", "to DLQ"] + (["skipped (resume)"] if report.skipped else [])
    columns += ["not delivered"] if not report.complete else []
    table = Table(*columns, title=f"{Path(file).name} -> {topic}")
    values = [report.sent, report.invalid, report.dead_lettered] + ([report.skipped] if report.skipped else [])
    values += [len(report.undelivered)] if not report.complete else []
    table.add_row(*values)
    table.print()
    if report.errors_by_kind:
        kinds = Table("error", "rows", title="invalid rows by error")
        for kind, count in report.errors_by_kind.most_common():
            kinds.add_row(kind, count)
        kinds.print()
