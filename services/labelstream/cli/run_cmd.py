"""``labelstream run``: start a service in the foreground (Ctrl-C or SIGTERM stops it cleanly)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import command_group
from labelstream.errors import PortInUse

app = command_group("Run a labelstream service in the foreground.")


class Level(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


LogLevel = Annotated[Level, typer.Option("--log-level", help="How much the service logs.", case_sensitive=False)]


def _logging(level: Level) -> None:
    logging.basicConfig(level=level.value.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextmanager
def _port_setting(setting: str) -> Iterator[None]:
    """A busy port names the setting that moves it."""
    try:
        yield
    except PortInUse as exc:
        env = "LABELSTREAM_" + setting.upper().replace(".", "__")
        raise PortInUse(f"{exc}; stop what holds it, or set {setting} ({env}; 0 picks a free port)", exc.port) from exc


@app.command("labeler")
def labeler(
    ctx: typer.Context,
    instance: Annotated[str, typer.Option(help="Unique per labeler process of a group (its transactional id).")] = "0",
    log_level: LogLevel = Level.info,
) -> None:
    """The hot path: records -> labels / review / deferred, exactly once."""
    from labelstream.labeler import run_labeler

    _logging(log_level)
    with _port_setting("labeler.metrics_port"):
        run_labeler(state(ctx).settings(), instance)


@app.command("learner")
def learner(ctx: typer.Context, log_level: LogLevel = Level.info) -> None:
    """Learns from corrections and publishes model versions (one per model)."""
    from labelstream.learner import run_learner

    _logging(log_level)
    with _port_setting("learner.metrics_port"):
        run_learner(state(ctx).settings(), "info" if log_level is Level.debug else "warning")


@app.command("reviewer-sim")
def reviewer_sim(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Labeled CSV/JSONL file holding the true labels.", exists=True, dir_okay=False)],
    label_column: Annotated[str, typer.Option(help="Column with the true label.")],
    id_column: Annotated[Optional[str], typer.Option(help="Column with the record id (as given to produce).")] = None,  # noqa: UP007
    delay: Annotated[float, typer.Option(help="Seconds a 'human' takes to answer.")] = 0.0,
    accuracy: Annotated[float, typer.Option(help="Share of correct answers (1 = perfect oracle).", min=0, max=1)] = 1.0,
    log_level: LogLevel = Level.info,
) -> None:
    """A simulated reviewer answering the review topic from a label column."""
    from labelstream.reviewer_sim import SimulatedReviewer, truth_from_file

    _logging(log_level)
    reviewer = SimulatedReviewer(state(ctx).settings(), truth_from_file(str(data), label_column, id_column), delay, accuracy)
    signal.signal(signal.SIGTERM, reviewer.stop)
    signal.signal(signal.SIGINT, reviewer.stop)
    reviewer.run()
