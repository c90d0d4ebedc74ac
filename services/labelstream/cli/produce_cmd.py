"""``labelstream produce FILE``: publish records from a CSV or JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelstream.cli.context import state
from labelstream.datafile import count_rows
from labelstream.produce import produce_file

console = Console()


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
) -> None:
    """Validate each row and publish it to the records topic, keyed by id."""
    settings = state(ctx).settings()
    total = count_rows(file) if limit is None else min(limit, count_rows(file))
    progress = Progress(
        TextColumn("[bold]producing[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    with progress:
        task = progress.add_task("rows", total=total)
        report = produce_file(
            settings, file, id_column, label_column, text_column, source, dlq,
            on_row=lambda _row: progress.advance(task), rate=rate, limit=limit,
        )
    for line, reason in report.invalid_rows[:show_invalid]:
        console.print(f"[yellow]line {line}[/]: {reason}", highlight=False)
    if len(report.invalid_rows) > show_invalid:
        console.print(f"... and {len(report.invalid_rows) - show_invalid} more invalid rows")
    table = Table("sent", "invalid", "to DLQ", title=f"{file.name} -> {settings.topics.records}")
    table.add_row(str(report.sent), str(report.invalid), str(report.dead_lettered))
    console.print(table)
    if report.errors_by_kind:
        kinds = Table("error", "rows", title="invalid rows by error")
        for kind, count in report.errors_by_kind.most_common():
            kinds.add_row(kind, str(count))
        console.print(kinds)
