"""How every ``labelstream`` command prints: tables, JSON for scripts, progress, errors.

Rules (issue #13), so that output works on a terminal, at 80 columns and piped:

- **Results on stdout, everything else on stderr.** Progress bars, status lines
  and errors go to :data:`err`; the table or the JSON a script reads goes to
  stdout, so ``labelstream topics describe --json | jq`` sees only JSON.
- **Tables never truncate.** On a terminal a :class:`Table` is drawn by rich
  with cells that wrap (fold), never an ellipsis; piped or redirected it is
  plain text, one row a line, columns separated by two spaces, however wide
  (``labelstream topics describe | grep model-versions`` finds the row).
- **``--json`` on every command that lists or describes**
  (:data:`JsonFlag`); :func:`print_json` writes it.
- **One error style**: one line ``error: <what is wrong>; <the fix>`` on
  stderr, no traceback (``--debug`` shows it), no boxed panel; exit code 2
  for a user error. Commands raise :class:`~labelstream.errors.LabelstreamError`
  (or click's usage errors) and :func:`labelstream.cli.main.main` prints
  them with :func:`print_error`.
- **Help is plain text** wrapped at the terminal width (:func:`command_group`
  turns rich's boxed help panels off: they cut option help at 80 columns).

>>> table = Table("topic", "messages", title="topics")
>>> table.add_row("records", 1200)
>>> table.add_row("model-versions", 3)
>>> print(table.plain())
topics
topic           messages
records             1200
model-versions         3
>>> human_duration(7 * 24 * 3600 * 1000), human_duration(5_400_000), human_duration(-1)
('7 days', '1.5 hours', 'forever')
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.progress import Progress, ProgressColumn
from rich.table import Column
from rich.table import Table as RichTable
from rich.text import Text
from typer.core import TyperGroup

#: stderr: progress bars, status lines, errors (never wraps a line it is given)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: the ``--json`` option of a command that lists or describes
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout (for scripts) instead of a table.")]

#: plain-text help up to this width (narrower terminals wrap narrower)
HELP_WIDTH = 100


class HelpGroup(TyperGroup):
    """A command group whose help lists each sub-command's first sentence in full, wrapped (click cuts it with ``...``)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(help: str, **kwargs: Any) -> typer.Typer:  # noqa: A002 - typer's name
    """A ``typer.Typer`` sub-command group with labelstream's help style (plain, wrapped, ``-h``)."""
    kwargs.setdefault("no_args_is_help", True)
    return typer.Typer(help=help, cls=HelpGroup, rich_markup_mode=None, context_settings=help_settings(), **kwargs)


def help_settings() -> dict[str, Any]:
    """click context settings of every command: ``-h`` as well as ``--help``, help wrapped up to :data:`HELP_WIDTH`."""
    return {"help_option_names": ["-h", "--help"], "max_content_width": HELP_WIDTH}


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("%"))
    except ValueError:
        return False
    return True


class Table:
    """Rows to show: rich on a terminal (cells wrap), plain aligned text otherwise; never truncated.

    Columns whose cells are all numbers are right-aligned. Cells may be any
    value (``None`` shows as ``-``, floats as given by the caller's formatting).
    """

    def __init__(self, *columns: str, title: str | None = None) -> None:
        self.columns = list(columns)
        self.title = title
        self.rows: list[list[str]] = []

    def add_row(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(["-" if cell is None else str(cell) for cell in cells])

    def _numeric(self, index: int) -> bool:
        cells = [row[index] for row in self.rows if row[index] not in ("", "-")]
        return bool(cells) and all(_is_number(cell) for cell in cells)

    def plain(self) -> str:
        """Plain text: a title line if any, the header, one row a line; two spaces between columns."""
        widths = [max([cell_len(name), *(cell_len(row[i]) for row in self.rows)]) for i, name in enumerate(self.columns)]
        numeric = [self._numeric(i) for i in range(len(self.columns))]

        def line(cells: Sequence[str]) -> str:
            padded = []
            for cell, width, right in zip(cells, widths, numeric, strict=True):
                pad = " " * (width - cell_len(cell))
                padded.append(pad + cell if right else cell + pad)
            return "  ".join(padded).rstrip()

        lines = [self.title] if self.title else []
        lines.append(line(self.columns))
        lines.extend(line(row) for row in self.rows)
        return "\n".join(lines)

    def rich(self) -> RichTable:
        """The same rows as a rich table whose cells fold instead of being cut."""
        columns = [
            Column(name, overflow="fold", justify="right" if self._numeric(i) else "left")
            for i, name in enumerate(self.columns)
        ]
        table = RichTable(*columns, title=self.title, box=box.SIMPLE_HEAD, title_justify="left")
        for row in self.rows:
            table.add_row(*(Text(cell) for cell in row))
        return table

    def print(self, terminal: bool | None = None) -> None:
        """Print on stdout: rich when stdout is a terminal, plain text otherwise."""
        if terminal is None:
            terminal = stdout_is_terminal()
        if terminal:
            Console(highlight=False).print(self.rich())
        else:
            print(self.plain())


def key_values(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    """A two-column table (``name``, ``value``) of a summary."""
    table = Table("", "value", title=title)
    for name, value in pairs:
        table.add_row(name, value)
    return table


def progress_bar(*columns: str | ProgressColumn, transient: bool = False) -> Progress:
    """A rich progress bar on stderr, shown only when stderr is a terminal (a log file gets no bar frames)."""
    return Progress(*columns, console=err, transient=transient, disable=not err.is_terminal)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (dates and paths as strings)."""
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def say(message: str) -> None:
    """A status line on stderr (not part of a command's result)."""
    err.print(Text(message))


def error_lines(message: str) -> list[str]:
    """The ``error: ...`` lines of a message: its first line, then any detail lines indented.

    >>> error_lines("Kafka did not answer; is the stack up? (make up)")
    ['error: Kafka did not answer; is the stack up? (make up)']
    """
    first, *rest = str(message).strip().splitlines() or [""]
    return [f"error: {first}", *(f"  {line}" for line in rest)]


def print_error(message: str) -> None:
    """Print ``error: message`` on stderr (``error:`` in red on a terminal, no markup read from the message)."""
    for number, line in enumerate(error_lines(message)):
        text = Text(line)
        if number == 0:
            text.stylize("bold red", 0, len("error:"))
        err.print(text)


def human_duration(milliseconds: int | None) -> str:
    """A retention or age in the largest whole-ish unit: ``7 days``, ``12 hours``, ``1.5 hours``; -1 is ``forever``."""
    if milliseconds is None:
        return "-"
    if milliseconds < 0:
        return "forever"
    for unit, size in (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000)):
        if milliseconds >= size:
            value = milliseconds / size
            shown = f"{value:.0f}" if value == int(value) or value >= 10 else f"{value:.1f}"
            return f"{shown} {unit}" + ("" if shown == "1" else "s")
    return f"{milliseconds} ms"
