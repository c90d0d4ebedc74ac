"""``labelstream lf``: what the labeling functions do — on a labeled file, or as the live learner learned them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, command_group, print_json
from labelstream.errors import LabelstreamError

if TYPE_CHECKING:  # the engine imports river, numpy and scipy: `labelstream --help` must not pay for them
    from labelstream.core.decode import RecordDecoder
    from labelstream.core.schemas import Record
    from labelstream.core.weak import LFAnalysis, WeakSupervision
    from labelstream.settings import Settings

app = command_group("Labeling functions: coverage, overlap, conflict and accuracy of each.")

Opt = Optional  # typer needs Optional[...] for optional options
BATCH = 500


@app.command("stats")
def stats(
    ctx: typer.Context,
    data: Annotated[Opt[Path], typer.Option(help="Labeled .csv or .jsonl file to apply the LFs to (default: the live learner's view).", dir_okay=False)] = None,
    label_column: Annotated[Opt[str], typer.Option(help="With --data: the column holding the true label.")] = None,
    id_column: Annotated[Opt[str], typer.Option(help="With --data: the column holding the record id.")] = None,
    text_column: Annotated[Opt[str], typer.Option(help="With --data: the column holding the record's text.")] = None,
    lf: Annotated[Opt[list[str]], typer.Option("--lf", metavar="<module[:name]>", help='Labeling function "pkg.module:name" or "pkg.module" (repeatable; default: weak.functions).')] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per LF: polarity, coverage, overlap, conflict, empirical accuracy (vs human answers) and learned accuracy.

    With --data: the LFs vote on every row of the file; accuracy is against its
    label column and the label model is fitted on all of it. Without: the
    latest model version's label model (what the learner learned from the
    answers so far; coverage is over answered records).
    """
    overrides = {"weak": {"functions": lf, "batch_timeout_ms": None, "halflife_answers": None}} if lf else {}
    settings = state(ctx).settings(**overrides)
    if not settings.weak.functions:
        raise LabelstreamError("no labeling functions: pass --lf pkg.module:name or set weak.functions")
    if data is not None:
        functions, title = _file_stats(settings, data, label_column, id_column, text_column), f"labeling functions on {data.name}"
    else:
        functions, title = _live_stats(settings), f"labeling functions of model {settings.model.model_name} (answered records)"
    if as_json:
        print_json(functions)
    else:
        print_lf_table(functions, title)


def _file_stats(
    settings: Settings, data: Path, label_column: str | None, id_column: str | None, text_column: str | None
) -> dict[str, dict[str, Any]]:
    from labelstream.core.build import build_weak
    from labelstream.core.decode import RecordDecoder
    from labelstream.datafile import open_rows

    settings = settings.model_copy(update={"weak": settings.weak.model_copy(update={"batch_timeout_ms": None, "halflife_answers": None})})
    weak = build_weak(settings.weak)
    assert weak is not None
    decoder = RecordDecoder.from_limits(settings.limits)
    for batch in _batches(open_rows(data, label_column=label_column, id_column=id_column, text_column=text_column), decoder):
        votes = weak.apply([record for record, _ in batch])
        for record_votes, (_, label) in zip(votes, batch, strict=True):
            if label is not None:
                weak.learn(record_votes, label)
    stats = weak.stats()
    for row in stats.values():
        row["weight"] = None  # pool weights are learned against a model's probabilities: there is none here
    return stats


def _batches(rows: Iterator, decoder: RecordDecoder) -> Iterator[list[tuple[Record, str | None]]]:
    from labelstream.core.decode import DecodeError

    batch: list[tuple[Record, str | None]] = []
    for row in rows:
        if row.payload is None:
            continue
        record = decoder.validate(row.payload)
        if isinstance(record, DecodeError):
            continue
        batch.append((record, row.label))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _live_stats(settings: Settings) -> dict[str, dict[str, Any]]:
    from labelstream.core.build import build_weak
    from labelstream.core.engine import WEAK_STATE_KEY
    from labelstream.store.connection import connect
    from labelstream.store.models import ModelRegistry

    snapshot = ModelRegistry.from_settings(connect(settings.redis), settings).load_latest()
    if snapshot is None:
        raise LabelstreamError(f"no model version of {settings.model.model_name!r} yet: start the learner, or use --data FILE")
    learned = snapshot.policy_state.get(WEAK_STATE_KEY)
    if not learned:
        raise LabelstreamError(
            f"model version {snapshot.version} holds no label model: was the learner started with weak.functions set?"
        )
    weak = build_weak(settings.weak)
    assert weak is not None
    weak.load_learned_state(learned)
    return _answered_stats(weak, weak.answered)


def _answered_stats(weak: WeakSupervision, answered: LFAnalysis) -> dict[str, dict[str, Any]]:
    """The learner's view: figures over answered records, with the learned accuracies."""
    stats = weak.stats()
    for name, row in answered.summary().items():
        stats[name].update({key: row[key] for key in ("coverage", "overlap", "conflict", "polarity", "votes")})
    return stats


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _whole(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_lf_table(functions: Mapping[str, Mapping[str, Any]], title: str) -> None:
    """The per-LF table of ``lf stats`` and of ``simulate`` (true accuracy when the truth is known), on stdout."""
    truth = any("true_accuracy" in row for row in functions.values())
    headings = ("LF", "votes", "cov", "ovl", "cfl", "acc", "n", "LM", "w") + (("true",) if truth else ()) + ("fail",)
    table = Table(*headings, title=title)
    for name, row in functions.items():
        cells = [
            name, ",".join(row.get("polarity", [])), _whole(row.get("coverage")), _whole(row.get("overlap")),
            _whole(row.get("conflict")), _whole(row.get("empirical_accuracy")), str(row.get("answered_votes", 0)),
            _whole(row.get("learned_accuracy")), "-" if row.get("weight") is None else f"{row['weight']:.1f}",
        ]
        cells += [_whole(row.get("true_accuracy"))] if truth else []
        cells += [str(row.get("errors", 0) + row.get("slow", 0) + row.get("timed_out", 0))]
        table.add_row(*cells)
    table.print()
    print(textwrap.fill(
        "cov/ovl/cfl: share of records voted on / with another vote / with a different vote; acc: on the n answered "
        "votes; LM: the label model's estimate; w: the weight of its vote" + ("; true: against every record's label" if truth else "")
        + "; fail: calls that raised or were too slow (abstentions)", width=80
    ))
