"""What the terminal reviewer draws: one screen per state, fitted to the terminal (80 columns and up).

Pure functions from a :class:`Screen` (what is known now) to rich renderables;
:mod:`~labelstream.review_client.terminal` decides when to draw them.

>>> from rich.console import Console
>>> console = Console(width=80, height=24, force_terminal=False, color_system=None)
>>> item = ReviewItem.from_json({"id": "r-17", "lease": "L", "lease_expires_at": 0.0, "lease_seconds": 120,
...     "record": {"id": "r-17", "features": {"petal_length": 4.9, "colour": "violet"}}, "proposed_label": "setosa",
...     "probabilities": {"setosa": 0.55, "versicolor": 0.45}, "reason": "uncertain", "priority": 0.8,
...     "labels": ["setosa", "versicolor", "virginica"], "overlap": False,
...     "skip_notes": [{"reviewer": "bo", "note": "not sure: the petals are torn", "at": 0.0}]})
>>> with console.capture() as capture:
...     console.print(render(Screen("ana", item=item), console.size))
>>> print("\\n".join(line.rstrip() for line in capture.get().splitlines()))
 labelstream review · ana
╭─ r-17 ───────────────────────────────────────────────────────────────────────╮
│ bo skipped: not sure: the petals are torn                                    │
│ petal_length  4.9                                                            │
│ colour        violet                                                         │
╰─────────────────────────────────────────────────── uncertain · priority 0.8 ─╯
 the model proposes setosa
   setosa     ███████████░░░░░░░░░ 0.55
   versicolor █████████░░░░░░░░░░░ 0.45
<BLANKLINE>
 1 setosa   2 versicolor   3 virginica
<BLANKLINE>
<BLANKLINE>
 1-9 label · s skip · e not sure · u undo · r recent · n note · ? keys · q quit
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, ConsoleDimensions, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from labelstream.review.reasons import describe
from labelstream.review_client.client import ReviewItem

HOTKEYS = "1-9 label · s skip · e not sure · u undo · r recent · n note · ? keys · q quit"
MAX_PROBABILITIES = 5
BAR_WIDTH = 20
MORE_TEXT = " … (v: all of it)"

HELP = [
    ("1 – 9", "answer with that label"),
    ("/", "type part of a label, Enter answers with the first match (for more than 9 labels)"),
    ("s", "skip: others get the record, you never see it again (with your note: why)"),
    ("e", "not sure: an expert gets the record (the expert role), you never see it again"),
    ("u", "undo your last answer (for a short while): the record comes back to you"),
    ("n", "write a note, sent with your next answer or skip"),
    ("r", "your recent answers: pick one, give it another label (within review.correct_seconds)"),
    ("g", "the labeling guidelines"),
    ("v", "the whole record (every feature, all of its text)"),
    ("?", "these keys"),
    ("q", "quit (a record you hold goes back to the queue)"),
]


@dataclass
class Screen:
    """What the terminal reviewer knows at one moment."""

    reviewer: str
    item: ReviewItem | None = None
    stats: Mapping[str, Any] | None = None
    message: str = ""
    message_style: str = "green"
    note: str = ""
    waiting: str = "Nothing to review right now; new records appear here as they come."
    answered: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def render(screen: Screen, size: ConsoleDimensions) -> RenderableType:
    """The whole screen: the item under review, or the waiting screen."""
    parts: list[RenderableType] = [_header(screen, size.width)]
    footer = _footer(screen)
    if screen.item is None:
        parts += [Text(""), Text(screen.waiting, style="bold"), Text("")]
    else:
        fixed = 1 + _rows(Group(*footer), size.width)
        below = _below_record(screen.item)
        fixed += sum(_rows(part, size.width) for part in below)
        parts.append(_record_panel(screen.item, size.width, max(3, size.height - fixed - 3)))  # borders, last newline
        parts += below
    parts += footer
    return Group(*parts)


def render_help(reason: str | None = None) -> RenderableType:
    """The keys, and why the record on screen is in review (its reason in a reviewer's words)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, meaning in HELP:
        table.add_row(key, meaning)
    parts: list[RenderableType] = [Text("Keys", style="bold"), Text(""), table]
    if reason is not None:
        parts += [Text(""), _why(reason)]
    return Group(*parts)


def _why(reason: str) -> Text:
    title, explained = describe(reason)
    return Text.assemble(("Why this record is here: ", "dim"), (title, "bold"), f" — {explained}" if explained else "")


def render_recent(rows: list[Mapping[str, Any]], now: float) -> RenderableType:
    """Your last answers, numbered for ``r`` (newest first), and how long each can still be corrected."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(no_wrap=True, overflow="ellipsis", max_width=40)
    table.add_column(no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column(style="dim", no_wrap=True)
    for i, row in enumerate(rows, 1):
        until = row.get("correctable_until")
        if until is None or until <= now:
            left = "too old to change"
        else:
            left = (
                f"changeable {(until - now) / 60:.0f} min more"
                if until - now >= 90
                else f"changeable {until - now:.0f} s more"
            )
        if row.get("overlap"):
            left += " · overlap vote"
        was = f"{row['corrected_from']} → " if row.get("corrected_from") else ""
        table.add_row(str(i), str(row["id"]), f"{was}{row['label']}", left)
    return Group(Text("Your recent answers", style="bold"), table)


def render_record(item: ReviewItem) -> RenderableType:
    """Every feature and the whole text (for ``v``, shown in a pager)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in _features(item.record).items():
        table.add_row(name, _value(value))
    parts: list[RenderableType] = [Text(f"record {item.id}", style="bold"), table]
    if item.record.get("text"):
        parts += [Text(""), Text(str(item.record["text"]))]
    parts += [Text(""), _why(item.reason)]
    return Group(*parts)


def render_guidelines(markdown: str) -> RenderableType:
    if not markdown.strip():
        return Text("No guidelines are configured (review.guidelines_file).")
    return Markdown(markdown)


# -- the parts ------------------------------------------------------------------------------------


def _header(screen: Screen, width: int) -> RenderableType:
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True, overflow="ellipsis")
    left = Text.assemble((" labelstream review", "bold"), (" · ", "dim"), (screen.reviewer, "bold cyan"))
    grid.add_row(left, Text(_stats_line(screen.stats), style="dim"))
    return grid


def _stats_line(stats: Mapping[str, Any] | None) -> str:
    if not stats:
        return ""
    me, queue = stats.get("me", {}), stats.get("queue", {})
    parts = [f"{me.get('answered_today', 0)} today"]
    if me.get("seconds_per_answer") is not None:
        parts.append(f"{me['seconds_per_answer']:.1f} s/item")
    parts.append(f"{queue.get('waiting', 0)}{'+' if queue.get('waiting_rounded') else ''} waiting")  # "40+": rounded
    return " · ".join(parts) + " "


def _skip_note(note: dict) -> str:
    """ "ana skipped: why", or "ana was not sure" ("not sure" is what the queue writes when no note came, as on the page)."""
    if note.get("unsure"):
        return f"{note.get('reviewer')} was not sure" + (
            "" if note.get("note") == "not sure" else f": {note.get('note')}"
        )
    return f"{note.get('reviewer')} skipped: {note.get('note')}"


def _record_panel(item: ReviewItem, width: int, rows: int) -> RenderableType:
    """Features as a table, then the text, cut to ``rows`` lines inside the panel (``v`` shows it all)."""
    features = _features(item.record)
    text = str(item.record.get("text") or "")
    inner = width - 4
    notes = [  # why earlier reviewers passed on it (the last two)
        Text(_skip_note(n), style="yellow", no_wrap=True, overflow="ellipsis")
        for n in (item.raw.get("skip_notes") or [])[-2:]
    ]
    rows = max(1, rows - len(notes))
    text_rows = 0
    if text:
        text_rows = min(max(1, rows // 2), math.ceil(len(text) / max(inner, 1)))
        feature_rows = max(0, rows - text_rows - (1 if features else 0))
    else:
        feature_rows = rows
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan", no_wrap=True, max_width=max(8, inner // 3), overflow="ellipsis")
    table.add_column(no_wrap=True, overflow="ellipsis")
    shown = list(features.items())
    if len(shown) > feature_rows:
        hidden = len(shown) - max(feature_rows - 1, 0)
        shown = shown[: max(feature_rows - 1, 0)]
    else:
        hidden = 0
    for name, value in shown:
        table.add_row(name, _value(value))
    parts: list[RenderableType] = [table] if shown else []
    if hidden:
        parts.append(Text(f"… {hidden} more features (v shows the whole record)", style="dim"))
    if text:
        if parts:
            parts.append(Text(""))
        parts.append(_crop(text, inner, text_rows))
    if not parts:
        parts.append(Text("(no features)", style="dim"))
    parts = notes + parts
    subtitle = [
        describe(item.reason)[0],
        f"priority {item.priority:.3g}",
    ]  # cold_start reads "calibrating" (? explains)
    if item.overlap:
        subtitle.append("overlap")
    if item.raw.get("expert"):
        subtitle.append("for an expert")  # a reviewer was not sure of it; it came to you as an expert
    elif item.raw.get("no_expert"):
        subtitle.append("no expert took it")  # back with everyone after review.expert_wait_seconds
    return Panel(
        Group(*parts),
        title=Text(item.id, style="bold"),
        title_align="left",
        subtitle=" · ".join(subtitle),
        subtitle_align="right",
        border_style="blue",
    )


def _below_record(item: ReviewItem) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if item.probabilities:
        version = f"model v{item.model_version}" if item.model_version is not None else "the model"
        proposed = item.proposed_label or max(item.probabilities, key=item.probabilities.__getitem__)
        parts.append(Text.assemble((f" {version} proposes ", "dim"), (proposed, "bold")))
        top = sorted(item.probabilities.items(), key=lambda kv: -kv[1])[:MAX_PROBABILITIES]
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, max_width=24, overflow="ellipsis")
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        for label, p in top:
            filled = round(max(0.0, min(1.0, p)) * BAR_WIDTH)
            grid.add_row(
                Text("   " + label), Text("█" * filled + "░" * (BAR_WIDTH - filled), style="magenta"), f"{p:.2f}"
            )
        parts.append(grid)
    parts.append(Text(""))
    parts.append(_labels_line(item.labels, item.proposed_label))
    return parts


def _labels_line(labels: Sequence[str], proposed: str | None) -> Text:
    line = Text(" ")
    for i, label in enumerate(labels[:9], start=1):
        line.append(f"{i}", style="bold reverse")
        line.append(f" {label}", style="bold" if label == proposed else "")
        line.append("   ")
    if len(labels) > 9:
        line.append(f"+{len(labels) - 9} more: / to find one", style="dim")
    if not labels:
        line.append("no label set: / to type a label", style="dim")
    return line


def _footer(screen: Screen) -> list[RenderableType]:
    parts: list[RenderableType] = [Text("")]
    status = Text(" ")
    if screen.message:
        status.append(screen.message, style=screen.message_style)
    if screen.note:
        status.append(("   " if screen.message else "") + f"note: {screen.note}", style="italic")
    parts.append(status)
    parts.append(Text(" " + HOTKEYS, style="dim", no_wrap=True, overflow="ellipsis"))
    return parts


def _rows(renderable: RenderableType, width: int) -> int:
    """Lines ``renderable`` takes at ``width``."""
    console = _measuring(width)
    return len(console.render_lines(renderable, console.options, pad=False))


def _crop(text: str, width: int, rows: int) -> Text:
    """``text`` wrapped at ``width``, cut to ``rows`` lines with a pointer to the rest."""
    lines = Text(text).wrap(_measuring(width), width)
    if len(lines) <= rows:
        return Text(text)
    kept = list(lines)[:rows]
    kept[-1].truncate(max(width - len(MORE_TEXT), 0))
    kept[-1].rstrip()
    kept[-1].append(MORE_TEXT, style="dim")
    return Text("\n").join(kept)


def _measuring(width: int) -> Console:
    return Console(width=width, force_terminal=False, color_system=None)


def _features(record: Mapping[str, Any]) -> dict[str, Any]:
    features = record.get("features")
    if isinstance(features, Mapping):
        return dict(features)
    return {key: value for key, value in record.items() if key not in ("id", "text")}


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
