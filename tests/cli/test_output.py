"""``labelstream.cli.output``: tables that never truncate, units, the error line."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from rich.console import Console

from labelstream.cli.output import Table, error_lines, human_duration

LONG = "labelstream-production.model-versions-of-the-west-region"


def _table() -> Table:
    table = Table("topic", "partitions", "cleanup.policy", "retention", "messages", title="topics")
    table.add_row(LONG, 1, "compact", "-", 12)
    table.add_row("records", 24, "delete", "7 days", 1_200_345)
    return table


def test_plain_table_keeps_every_cell_whole_and_aligns_numbers():
    lines = _table().plain().splitlines()
    assert lines[0] == "topics"
    assert lines[1].split() == ["topic", "partitions", "cleanup.policy", "retention", "messages"]
    assert lines[2].split() == [LONG, "1", "compact", "-", "12"]
    assert lines[3].split() == ["records", "24", "delete", "7", "days", "1200345"]
    # numbers right-aligned: the counts end in the same column
    assert len(lines[2]) == len(lines[3])


@pytest.mark.parametrize("width", [40, 80, 200])
def test_terminal_table_folds_cells_instead_of_cutting_them(width):
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=True, color_system=None).print(_table().rich())
    text = out.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    # folding moves characters to the next line but drops none: every character of every cell is drawn
    table = _table()
    wanted = Counter("".join([table.title, *table.columns, *(cell for row in table.rows for cell in row)]).replace(" ", ""))
    drawn = Counter(text)
    assert not wanted - drawn


def test_a_row_of_the_wrong_length_is_a_bug():
    with pytest.raises(ValueError, match="3 cells for 5 columns"):
        _table().add_row(1, 2, 3)


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (7 * 86_400_000, "7 days"),
        (86_400_000, "1 day"),
        (36 * 3_600_000, "1.5 days"),
        (12 * 3_600_000, "12 hours"),
        (90_000, "1.5 minutes"),
        (1000, "1 second"),
        (250, "250 ms"),
        (-1, "forever"),
        (None, "-"),
    ],
)
def test_human_duration(ms, shown):
    assert human_duration(ms) == shown


def test_error_message_is_one_line_and_details_are_indented():
    assert error_lines("labeler stopped unexpectedly:\nline a\nline b") == [
        "error: labeler stopped unexpectedly:", "  line a", "  line b"
    ]
