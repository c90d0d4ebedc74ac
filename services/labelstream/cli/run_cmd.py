"""``labelstream run``: start a service in the foreground (Ctrl-C or SIGTERM stops it cleanly)."""

from __future__ import annotations

import errno
import faulthandler
import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import command_group
from labelstream.errors import PortInUse
from labelstream.log_repeats import quiet_repeats

if TYPE_CHECKING:
    from labelstream.settings import Settings

app = command_group("Run a labelstream service in the foreground until Ctrl-C or SIGTERM; logs on stderr. "
                    "Needs Kafka and Redis: make up.")
VIA_API = "Reviewers through the review API (--via-api)"


class Level(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


LogLevel = Annotated[Level, typer.Option("--log-level", help="How much the service logs.", case_sensitive=False)]


def _logging(level: Level) -> None:
    """The service's log format; ``kill -USR1 PID`` writes every thread's stack to its standard error (a stuck loop
    shows where it waits, without stopping the service)."""
    logging.basicConfig(level=level.value.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_repeats()  # the learner's Kafka client repeats itself thousands of times a second in a broker outage
    faulthandler.register(signal.SIGUSR1, all_threads=True)


@contextmanager
def _port_setting(setting: str, port: int | None = None) -> Iterator[None]:
    """A busy port names the setting that moves it; ``port`` is checked at once, before the service's slow start."""
    try:
        if port:
            _check_port_free(port)
        yield
    except PortInUse as exc:
        env = "LABELSTREAM_" + setting.upper().replace(".", "__")
        raise PortInUse(f"{exc}; stop what holds it, or set {setting} ({env}; 0 picks a free port)", exc.port) from exc


def _check_port_free(port: int, host: str = "0.0.0.0") -> None:
    """:class:`PortInUse` if ``host:port`` is taken: said in a second, not after the imports and the broker's
    first contact (5-10 s); the service's own bind stays the last word (its server binds the same way)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # not ours to judge here: the service's bind reports it
            raise PortInUse(f"port {port} is already in use (another labelstream service?)", port) from exc


def _no_broker_is_an_error(settings: Settings) -> None:
    """The learner's worker (faust) cannot start without a broker: one error line instead of its traceback."""
    from labelstream.errors import ServiceUnavailable
    from labelstream.kafka.reachability import nothing_listens, unreachable_message

    if nothing_listens(settings.kafka):
        raise ServiceUnavailable(unreachable_message(settings.kafka, "nothing accepts a connection there"))


def _no_broker_is_a_warning(settings: Settings, service: str) -> None:
    """The labeler, the review service and the oracle wait for their broker (an outage is never a reason to exit);
    the first line says what they wait for."""
    from labelstream.kafka.reachability import nothing_listens, unreachable_message

    if nothing_listens(settings.kafka):
        logging.getLogger(f"labelstream.{service}").warning(
            "%s; waiting for it", unreachable_message(settings.kafka, "nothing accepts a connection there"))


@app.command("labeler")
def labeler(
    ctx: typer.Context,
    instance: Annotated[str, typer.Option(help="This labeler's id in its group (part of its transactional id): "
                                                "give each further labeler its own, 1, 2, ...")] = "0",
    log_level: LogLevel = Level.info,
) -> None:
    """The hot path: records -> labels / review / deferred, exactly once.

    Serves /metrics, /livez and /readyz on labeler.metrics_port (9400; 0 picks a free port). More labelers
    share the records' partitions (up to their number): each needs its own --instance, and on one machine its
    own metrics port.
    """
    _logging(log_level)
    settings = state(ctx).settings()
    _no_broker_is_a_warning(settings, "labeler")
    with _port_setting("labeler.metrics_port", settings.labeler.metrics_port):
        from labelstream.labeler import run_labeler

        run_labeler(settings, instance)


@app.command("learner")
def learner(ctx: typer.Context, log_level: LogLevel = Level.info) -> None:
    """Learns from corrections and publishes model versions (one per model).

    Exactly one learner per model must run. Serves /metrics, /livez and /readyz on learner.metrics_port (9401).
    """
    _logging(log_level)
    settings = state(ctx).settings()
    _no_broker_is_an_error(settings)
    with _port_setting("learner.metrics_port", settings.learner.metrics_port):
        from labelstream.learner import run_learner

        run_learner(settings, "info" if log_level is Level.debug else "warning")


@app.command("reviewer-sim")
def reviewer_sim(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Labeled .csv (with a header) or .jsonl file holding the true labels.", exists=True, dir_okay=False)],
    label_column: Annotated[str, typer.Option(help="Column holding the true label.")],
    id_column: Annotated[Optional[str], typer.Option(help="Column holding the record id (as given to produce).")] = None,  # noqa: UP007
    delay: Annotated[float, typer.Option("--delay", "--delay-seconds", help="Seconds a 'human' takes to answer: fixed, or with --via-api the mean of a random think time.", min=0)] = 0.0,
    accuracy: Annotated[float, typer.Option(help="Share of correct answers (1 = perfect oracle; without --via-api).", min=0, max=1)] = 1.0,
    via_api: Annotated[bool, typer.Option("--via-api", rich_help_panel=VIA_API, help="Work the review service's queue through its HTTP API, as K reviewers with tokens of their own.")] = False,
    url: Annotated[Optional[str], typer.Option(rich_help_panel=VIA_API, help="The review service's URL (default: localhost, port review.port).")] = None,  # noqa: UP007
    reviewers: Annotated[Optional[int], typer.Option(rich_help_panel=VIA_API, help="How many reviewers (default 1, or one per --token).", min=1, max=100)] = None,  # noqa: UP007
    error_rate: Annotated[Optional[str], typer.Option(rich_help_panel=VIA_API, help="Share of wrong answers: one for all (0.1) or one per reviewer (0.05,0.2,0.35).")] = None,  # noqa: UP007
    skip_rate: Annotated[Optional[float], typer.Option(rich_help_panel=VIA_API, help="Share of items skipped.", min=0, max=1)] = None,  # noqa: UP007
    token: Annotated[Optional[list[str]], typer.Option(rich_help_panel=VIA_API, metavar="<token>", help="Use this token (repeat for more) instead of creating tokens in the review service's Redis.")] = None,  # noqa: UP007
    name_prefix: Annotated[Optional[str], typer.Option(rich_help_panel=VIA_API, help="Created reviewers are named PREFIX-1 ... PREFIX-K (default: sim).")] = None,  # noqa: UP007
    seed: Annotated[int, typer.Option(rich_help_panel=VIA_API, help="Seed of every reviewer's choices (a rerun gives the same answers).")] = 0,
    stop_when_idle: Annotated[Optional[float], typer.Option(rich_help_panel=VIA_API, help="Exit once no item came for this many seconds (default: run until stopped).", min=0)] = None,  # noqa: UP007
    as_json: Annotated[bool, typer.Option("--json", rich_help_panel=VIA_API, help="Print a JSON summary per reviewer on exit (stdout).")] = False,
    log_level: LogLevel = Level.info,
) -> None:
    """A simulated reviewer: answers the review topic from a label column (oracle), or --via-api K reviewers work the review service."""
    _logging(log_level)

    def load_truth() -> dict[str, str]:
        from labelstream.reviewer_sim import truth_from_file

        return truth_from_file(str(data), label_column, id_column)

    if via_api:
        from labelstream.cli.reviewer_sim_api import run_via_api

        run_via_api(state(ctx).settings, load_truth, url=url, reviewers=reviewers, delay=delay, error_rate=error_rate,
                    skip_rate=skip_rate or 0.0, tokens=token or [], name_prefix=name_prefix or "sim", seed=seed,
                    stop_when_idle=stop_when_idle or 0.0, as_json=as_json, accuracy=accuracy)
        return
    api_only = {"--url": url, "--reviewers": reviewers, "--error-rate": error_rate, "--skip-rate": skip_rate,
                "--token": token, "--name-prefix": name_prefix, "--stop-when-idle": stop_when_idle, "--json": as_json or None}
    given = [name for name, value in api_only.items() if value is not None]
    if given:
        from labelstream.errors import LabelstreamError

        raise LabelstreamError(f"{', '.join(given)}: only with --via-api (the oracle answers the review topic itself)")
    from labelstream.reviewer_sim import SimulatedReviewer

    settings = state(ctx).settings()
    _no_broker_is_a_warning(settings, "reviewer_sim")
    reviewer = SimulatedReviewer(settings, load_truth(), delay, accuracy)
    signal.signal(signal.SIGTERM, reviewer.stop)
    signal.signal(signal.SIGINT, reviewer.stop)
    reviewer.run()


@app.command("review")
def review(
    ctx: typer.Context,
    port: Annotated[Optional[int], typer.Option(help="Port of the page, API, /metrics and probes (default: review.port, 9402).", min=0, max=65535)] = None,  # noqa: UP007
    log_level: LogLevel = Level.info,
) -> None:
    """The review service: web page, JSON API and work queue for people (review -> corrections).

    Reviewers open http://localhost:PORT/#token=T with a token from `labelstream review token add NAME`.
    """
    from labelstream.review.service import run_review

    _logging(log_level)
    settings = state(ctx).settings()
    _no_broker_is_a_warning(settings, "review")
    with _port_setting("review.port"):
        run_review(settings, port)
