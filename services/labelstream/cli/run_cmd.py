"""``labelstream run``: start a service in the foreground (Ctrl-C or SIGTERM stops it cleanly)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from labelstream.cli.context import state

app = typer.Typer(help="Run a labelstream service in the foreground.", no_args_is_help=True)

LogLevel = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")]


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command("labeler")
def labeler(
    ctx: typer.Context,
    instance: Annotated[str, typer.Option(help="Unique per labeler process of a group (its transactional id).")] = "0",
    log_level: LogLevel = "info",
) -> None:
    """The hot path: records -> labels / review / deferred, exactly once."""
    from labelstream.labeler import run_labeler

    _logging(log_level)
    run_labeler(state(ctx).settings(), instance)


@app.command("learner")
def learner(ctx: typer.Context, log_level: LogLevel = "info") -> None:
    """Learns from corrections and publishes model versions (one per model)."""
    from labelstream.learner import run_learner

    _logging(log_level)
    run_learner(state(ctx).settings(), "warning" if log_level.lower() != "debug" else "info")


@app.command("reviewer-sim")
def reviewer_sim(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Labeled CSV/JSONL file holding the true labels.", exists=True, dir_okay=False)],
    label_column: Annotated[str, typer.Option(help="Column with the true label.")],
    id_column: Annotated[Optional[str], typer.Option(help="Column with the record id (as given to produce).")] = None,  # noqa: UP007
    delay: Annotated[float, typer.Option(help="Seconds a 'human' takes to answer.")] = 0.0,
    accuracy: Annotated[float, typer.Option(help="Share of correct answers (1 = perfect oracle).", min=0, max=1)] = 1.0,
    log_level: LogLevel = "info",
) -> None:
    """A simulated reviewer answering the review topic from a label column."""
    from labelstream.reviewer_sim import SimulatedReviewer, truth_from_file

    _logging(log_level)
    reviewer = SimulatedReviewer(state(ctx).settings(), truth_from_file(str(data), label_column, id_column), delay, accuracy)
    signal.signal(signal.SIGTERM, reviewer.stop)
    signal.signal(signal.SIGINT, reviewer.stop)
    reviewer.run()


@app.command("review")
def review(
    ctx: typer.Context,
    port: Annotated[Optional[int], typer.Option(help="Port of the page, API, /metrics and probes (default: review.port, 9402).", min=0, max=65535)] = None,  # noqa: UP007
    log_level: LogLevel = "info",
) -> None:
    """The review service: web page, JSON API and work queue for people (review -> corrections)."""
    from labelstream.review.service import run_review

    _logging(log_level)
    run_review(state(ctx).settings(), port)
