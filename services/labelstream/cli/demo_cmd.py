"""``labelstream demo``: the whole loop, live, on a dataset that ships inside river."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar
from rich.table import Table as RichTable
from rich.text import Text

from labelstream.cli.context import state
from labelstream.cli.output import Table, err, key_values, say

if TYPE_CHECKING:
    from labelstream.simulate.via_kafka import Progress

console = err  # the live view and status lines; the summary goes to stdout


def demo(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="A dataset of `labelstream datasets list`.")] = "sea_drift",
    rate: Annotated[float, typer.Option(help="Records per second offered.", min=1)] = 400.0,
    size: Annotated[Optional[int], typer.Option(help="Records to stream (default: the whole dataset).", min=1)] = None,  # noqa: UP007
    reviewer_delay: Annotated[float, typer.Option(help="Seconds the simulated reviewer takes per answer.", min=0)] = 0.2,
    review_budget: Annotated[float, typer.Option(help="Share of the stream humans may review.", min=0.001, max=1)] = 0.3,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the run's topics and Redis keys afterwards.")] = False,
    report: Annotated[Optional[Path], typer.Option(help="Also write the JSON report here.")] = None,  # noqa: UP007
) -> None:
    """Start the stack if needed, run labeler + learner + a simulated reviewer, stream a dataset, show it live."""
    # imported here: river takes seconds to import, and --help should not wait for it
    from labelstream.simulate.datasets import DATASETS, export_dataset
    from labelstream.simulate.via_kafka import KafkaRun
    from labelstream.stack import ensure_stack, stop_stack

    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}", param_hint="--dataset")
    # the model that suits the dataset, the budget of the flag (the settings' other values stand)
    settings = state(ctx).settings(model={"name": DATASETS[dataset].model}, policy={"review_budget_share": review_budget})
    started_stack = ensure_stack(settings)
    workdir = Path(tempfile.mkdtemp(prefix="labelstream-demo-"))
    data = workdir / f"{dataset}.csv"
    n = export_dataset(dataset, data, size=size)
    run = KafkaRun(settings, data, "label", "id", rate=rate, reviewer_delay=reviewer_delay, namespace=f"demo-{workdir.name[-8:]}", keep=keep)
    console.print(
        f"streaming [bold]{n}[/] records of [bold]{dataset}[/] ({DATASETS[dataset].description}) at {rate:.0f}/s "
        f"through labeler + learner + simulated reviewer; model {settings.model.name}, review budget {review_budget:.0%}"
    )
    console.print(Text(f"topics: {run.namespace}.*   logs: {run.log_dir}   (Ctrl-C stops everything)"))
    bar = Bar(TextColumn("[bold]routed"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    task = bar.add_task("routed", total=n)
    try:
        with Live(console=console, refresh_per_second=4) as live:

            def show(progress: Progress) -> None:
                bar.update(task, completed=progress.routed)
                live.update(Group(bar, _progress_table(progress)))

            result = run.run(on_progress=show)
        console.print()
    finally:
        if started_stack:
            stop_stack()
    _summary_table(result).print()
    if report is not None:
        report.write_text(json.dumps(result, indent=2))
        say(f"report written to {report}")


def _progress_table(p: Progress) -> RichTable:
    # short headers: the row fits 80 columns (auto = share auto-labeled, precision = of those auto-labels so far)
    table = Table("records/s", "auto", "precision", "review queue", "answered", "deferred", "model")
    precision = f"{p.auto_precision:.3f}" if p.auto_precision is not None else "-"
    auto_share = f"{p.auto / p.routed:.2f}" if p.routed else "-"
    table.add_row(
        f"{p.records_per_second:.0f}", auto_share, precision, p.review_queue, p.answered, p.deferred, p.model_version
    )
    return table.rich()


def _summary_table(result: dict) -> Table:
    via = result["via_kafka"]
    rows = [
        ("records", result["records"]),
        ("records/s (first outcome to last)", via["records_per_second"]),
        ("auto share", result["auto_share"]),
        ("auto precision", result["auto_precision"]),
        ("review share", result["review_share"]),
        ("deferred share", result["deferred_share"]),
        ("label accuracy (auto + human)", result["label_accuracy"]),
        ("audit precision estimate", result.get("audit_precision_estimate")),
        ("model versions", result["model_versions"]),
        ("drift events", ", ".join(sorted({e["detector"] for e in result["drift_events"]})) or "none"),
        ("missing / duplicated outcomes", f"{via['missing']} / {via['duplicated']}"),
    ]
    return key_values(((name, f"{value:.3f}" if isinstance(value, float) else value) for name, value in rows), title="summary")
