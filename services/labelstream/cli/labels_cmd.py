"""``labelstream labels``: the label set reviewers answer with (it only grows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, command_group, print_json, say
from labelstream.errors import LabelstreamError

if TYPE_CHECKING:  # redis is imported by the commands that use it, not by `labelstream --help`
    from labelstream.review.labelset import LabelSet
    from labelstream.settings import Settings

app = command_group("The label set: the only labels reviewers may give and the learner learns.")


def _label_set(settings: Settings) -> LabelSet:
    from labelstream.review.labelset import LabelSet
    from labelstream.store.connection import connect

    return LabelSet.from_settings(connect(settings.redis), settings)


@app.command("list")
def list_labels(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The labels, one a line, in hotkey order (configured ones first, then those added); empty: any label is accepted."""
    label_set = _label_set(state(ctx).settings())
    labels = label_set.labels()
    if as_json:
        print_json(labels)
        return
    if not labels:
        say("no label set defined: any label is accepted (labelstream labels add NAME, or labels.classes)")
    for label in labels:
        print(label)


@app.command("add")
def add_labels(
    ctx: typer.Context, names: Annotated[list[str], typer.Argument(metavar="NAMES", help="Labels to add (quote names with spaces).")]
) -> None:
    """Add labels to the set (an admin action). There is no remove: answers given with a label stay learnable."""
    label_set = _label_set(state(ctx).settings())
    for name in names:
        try:
            added = label_set.add(name)
        except ValueError as exc:
            raise LabelstreamError(str(exc)) from exc
        print(f"added {name}" if added else f"{name} is already in the label set")
