"""``labelstream produce FILE``: publish records from a CSV or JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, print_json, progress_bar


def produce(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv (with a header line) or .jsonl file.", exists=True, dir_okay=False)],
    id_column: Annotated[Optional[str], typer.Option(help="Column holding the record id (default: <file>-<line>).")] = None,  # noqa: UP007
    label_column: Annotated[Optional[str], typer.Option(help="Column to leave out of the features (the true label).")] = None,  # noqa: UP007
    text_column: Annotated[Optional[str], typer.Option(help="Column to send as the record's text.")] = None,  # noqa: UP007
    source: Annotated[Optional[str], typer.Option(help="The records' source field (default: the file name).")] = None,  # noqa: UP007
    dlq: Annotated[bool, typer.Option("--dlq", help="Also publish invalid rows to the dead-letter topic.")] = False,
    show_invalid: Annotated[int, typer.Option(help="How many invalid rows to list.")] = 20,
    rate: Annotated[Optional[float], typer.Option(help="Rows per second (default: as fast as possible).", min=0.001)] = None,  # noqa: UP007
    limit: Annotated[Optional[int], typer.Option(help="Stop after this many rows.", min=1)] = None,  # noqa: UP007
    as_json: JsonFlag = False,
) -> None:
    """Validate each row and publish it to the records topic, keyed by id."""
    from labelstream.datafile import count_rows
    from labelstream.produce import produce_file

    settings = state(ctx).settings()
    total = count_rows(file) if limit is None else min(limit, count_rows(file))
    progress = progress_bar(TextColumn("[bold]producing[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with progress:
        task = progress.add_task("rows", total=total)
        report = produce_file(
            settings, file, id_column, label_column, text_column, source, dlq,
            on_row=lambda _row: progress.advance(task), rate=rate, limit=limit,
        )
    if as_json:
        print_json({
            "file": str(file), "topic": settings.topics.records,
            "sent": report.sent, "invalid": report.invalid, "dead_lettered": report.dead_lettered,
            "errors_by_kind": dict(report.errors_by_kind.most_common()),
            "invalid_rows": [{"line": line, "reason": reason} for line, reason in report.invalid_rows[:show_invalid]],
        })
        return
    for line, reason in report.invalid_rows[:show_invalid]:
        print(f"line {line}: {reason}")
    if len(report.invalid_rows) > show_invalid:
        print(f"... and {len(report.invalid_rows) - show_invalid} more invalid rows")
    table = Table("sent", "invalid", "to DLQ", title=f"{file.name} -> {settings.topics.records}")
    table.add_row(report.sent, report.invalid, report.dead_lettered)
    table.print()
    if report.errors_by_kind:
        kinds = Table("error", "rows", title="invalid rows by error")
        for kind, count in report.errors_by_kind.most_common():
            kinds.add_row(kind, count)
        kinds.print()
