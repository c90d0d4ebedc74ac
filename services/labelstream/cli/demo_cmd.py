"""``labelstream demo``: the whole loop, live, on a dataset that ships inside river."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
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
    from labelstream.simulate.via_kafka import KafkaRun, Progress

console = err  # the live view and status lines; the summary goes to stdout


def demo(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Option(help="A dataset of `labelstream datasets list`.")] = "sea_drift",
    # a pace people keep up with: the reviewers' answers teach the model while the stream runs
    rate: Annotated[float, typer.Option(help="Records per second offered.", min=1)] = 40.0,
    size: Annotated[Optional[int], typer.Option(help="Records to stream (0: the whole dataset).", min=0)] = 4000,  # noqa: UP007
    reviewer_delay: Annotated[float, typer.Option(
        "--reviewer-delay-seconds", "--reviewer-delay", help="Seconds a simulated reviewer takes per answer (mean).", min=0,
    )] = 0.1,
    reviewers: Annotated[int, typer.Option(help="Simulated reviewers working the review service's API.", min=1, max=20)] = 4,
    # above 1 - policy.target_precision the contract can never prove its target against these answers: no auto-labels
    error_rate: Annotated[float, typer.Option(
        "--reviewer-error-rate", "--error-rate", help="Share of wrong answers of each simulated reviewer.", min=0, max=1,
    )] = 0.01,
    overlap: Annotated[float, typer.Option(help="Share of reviewed records answered by two reviewers (agreement).", min=0, max=1)] = 0.1,
    oracle: Annotated[bool, typer.Option("--oracle", help="No review service: one instant, never-wrong reviewer on the review topic.")] = False,
    review_budget: Annotated[float, typer.Option(help="Share of the stream humans may review (policy.review_budget_share).", min=0.001, max=1)] = 0.3,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the run's topics, Redis keys and exported dataset afterwards.")] = False,
    report: Annotated[Optional[Path], typer.Option(help="Also write the JSON report here.")] = None,  # noqa: UP007
) -> None:
    """Start the stack if needed, run labeler + learner + review service with simulated reviewers, stream a dataset, show it live.

    The simulated reviewers work through the review service's API; the demo
    prints the review page's URL with a token of your own: open it and take
    records too (keys 1-9 answer, s skips, u undoes). Live progress goes to
    stderr (piped: a row every 10 s), the summary to stdout at the end. The
    end or Ctrl-C stops what the demo started (the stack too, if it started
    it; one started by make up stays up).
    """
    # imported here: river takes seconds to import, and --help should not wait for it
    from labelstream.processes import interrupt_on_sigterm
    from labelstream.simulate.datasets import DATASETS, export_dataset
    from labelstream.simulate.via_kafka import HumanHalf, KafkaRun
    from labelstream.stack import ensure_stack, stop_stack

    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}", param_hint="--dataset")
    # the model that suits the dataset, the budget of the flag (the settings' other values stand)
    settings = state(ctx).settings(
        model={"name": DATASETS[dataset].model}, policy={"review_budget_share": review_budget},
        review={"overlap_share": 0.0 if oracle else overlap},
    )
    interrupt_on_sigterm()  # `kill` stops the demo's services too, as Ctrl-C does
    started_stack = ensure_stack(settings)
    workdir = Path(tempfile.mkdtemp(prefix="labelstream-demo-"))
    data = workdir / f"{dataset}.csv"
    n = export_dataset(dataset, data, size=size or None)
    human = None if oracle else HumanHalf(reviewers=reviewers, error_rate=error_rate)
    run = KafkaRun(settings, data, "label", "id", rate=rate, reviewer_delay=reviewer_delay,
                   namespace=f"demo-{workdir.name[-8:]}", keep=keep, human=human)
    who = "an oracle reviewer" if oracle else f"review service + {reviewers} simulated reviewers"
    console.print(
        f"streaming [bold]{n}[/] records of [bold]{dataset}[/] ({DATASETS[dataset].description}) at {rate:.0f}/s "
        f"through labeler + learner + {who}; model {settings.model.name}, review budget {review_budget:.0%}"
    )
    console.print(Text(f"topics: {run.namespace}.*   logs: {run.log_dir}   (Ctrl-C stops everything)"))
    try:
        if console.is_terminal:
            bar = Bar(TextColumn("[bold]routed"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            task = bar.add_task("routed", total=n)
            with Live(console=console, refresh_per_second=4) as live:

                def show(progress: Progress) -> None:
                    bar.update(task, completed=progress.routed)
                    live.update(Group(bar, _progress_table(progress)))

                result = run.run(on_progress=show, on_started=_announce_review_page)
            console.print()
        else:  # piped or logged: a plain line every PIPED_PROGRESS_SECONDS instead of a live view nobody sees
            result = run.run(on_progress=_progress_lines(n), on_started=_announce_review_page)
    finally:
        if started_stack:
            stop_stack()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)  # the exported dataset (the logs stay in .stack/runs/)
    _summary_table(result).print()
    if report is not None:
        report.write_text(json.dumps(result, indent=2))
        say(f"report written to {report}")


def _announce_review_page(run: KafkaRun) -> None:
    """The page's URL with the person's token (the page reads it from the fragment and forgets it), and the token alone."""
    if run.review_url is None:
        return
    console.print(Text(f"review page: {run.review_url}/#token={run.person_token}", overflow="fold"))
    console.print(Text(f"  (or open {run.review_url}/ and paste the token of reviewer "
                       f"'{run.human.person}': {run.person_token})", overflow="fold"))


PIPED_PROGRESS_SECONDS = 10.0
_PIPED_COLUMNS = (("routed", 11), ("rec/s", 6), ("auto", 5), ("precision", 9), ("queue", 6), ("answered", 8),
                  ("deferred", 8), ("model", 5))


def _progress_lines(total: int) -> Callable[[Progress], None]:
    """``on_progress`` for a stderr that is not a terminal: a header, then a row every few seconds (72 columns)."""
    last = {"at": -PIPED_PROGRESS_SECONDS, "routed": -1}

    def line(cells: tuple) -> None:
        console.print(Text("  ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, _PIPED_COLUMNS, strict=True))))

    def show(p: Progress) -> None:
        all_routed = p.routed >= total and last["routed"] < total  # the row that says every record is routed
        if p.elapsed - last["at"] < PIPED_PROGRESS_SECONDS and not all_routed:
            return
        if last["routed"] < 0:
            line(tuple(name for name, _ in _PIPED_COLUMNS))
        last.update(at=p.elapsed, routed=p.routed)
        auto = f"{p.auto / p.routed:.2f}" if p.routed else "-"
        precision = f"{p.auto_precision:.3f}" if p.auto_precision is not None else "-"
        line((f"{p.routed}/{total}", f"{p.records_per_second:.0f}", auto, precision, p.review_queue, p.answered,
              p.deferred, p.model_version))

    return show


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
    review = result.get("review")
    if review:
        answers = review["answers_by_reviewer"]
        rows.append(("answers by reviewer", ", ".join(f"{name} {count}" for name, count in sorted(answers.items())) or "none"))
        agreement = review["agreement"]
        if agreement.get("kappa") is not None:
            rows.append(("agreement on overlap items", f"kappa {agreement['kappa']:.3f}, alpha {agreement['alpha']:.3f}"))
    return key_values(((name, f"{value:.3f}" if isinstance(value, float) else value) for name, value in rows), title="summary")
