"""``labelstream``: one command for the stack, the services, simulation and benchmarks."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from labelstream import __version__
from labelstream.cli import (
    bench_cmd,
    datasets_cmd,
    demo_cmd,
    labels_cmd,
    lf_cmd,
    models_cmd,
    produce_cmd,
    quality_cmd,
    review_cmd,
    review_terminal_cmd,
    run_cmd,
    schemas_cmd,
    simulate_cmd,
    topics_cmd,
)
from labelstream.cli.context import CliState
from labelstream.cli.output import HelpGroup, help_settings, print_error
from labelstream.errors import ConfigError, LabelstreamError

app = typer.Typer(
    name="labelstream",
    help="Streaming auto-labeling on Apache Kafka: an online model labels records, "
    "humans review the uncertain ones, the model learns from their answers.",
    no_args_is_help=True,
    cls=HelpGroup,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, wrapped (rich's panels cut option help at 80 columns)
    context_settings=help_settings(),
)
app.add_typer(schemas_cmd.app, name="schemas")
app.add_typer(topics_cmd.app, name="topics")
app.command("produce")(produce_cmd.produce)
app.add_typer(run_cmd.app, name="run")
app.command("demo")(demo_cmd.demo)
app.add_typer(bench_cmd.app, name="bench")
app.command("simulate")(simulate_cmd.simulate)
app.add_typer(datasets_cmd.app, name="datasets")
app.add_typer(models_cmd.app, name="models")
app.add_typer(review_cmd.app, name="review")
review_terminal_cmd.attach(review_cmd.app)  # labelstream review --url URL --token T: the terminal reviewer
app.add_typer(labels_cmd.app, name="labels")
app.add_typer(lf_cmd.app, name="lf")
bench_cmd.app.command("quality")(quality_cmd.quality)


def _version(value: bool) -> None:
    if value:
        print(f"labelstream {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Optional[Path],  # noqa: UP007 - typer needs Optional
        typer.Option("--config", "-c", help="TOML settings file (environment variables LABELSTREAM_* win over it).", envvar="LABELSTREAM_CONFIG"),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    ctx.obj = CliState(config_file=config, debug=debug)


# click's exception classes as typer raises them (typer >= 0.20 vendors click as typer._click)
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_NO_ARGS_IS_HELP = getattr(sys.modules[_USAGE_ERROR.__module__], "NoArgsIsHelpError", ())


def main() -> None:
    """Entry point: every user error is one line ``error: ...`` on stderr, exit code 2; ``--debug`` shows tracebacks."""
    debug = "--debug" in sys.argv[1:]
    try:
        result = app(standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:  # `labelstream topics`: the group's help
        print(exc.format_message())
        sys.exit(2)
    except _USAGE_ERROR as exc:
        message = exc.format_message().replace("Value error, ", "").rstrip(".")  # typer's pydantic coercion prefix
        message = message.replace(". Did you mean", "; did you mean")  # click's suggestion, in our one-line style
        hint = ""
        if exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')" if message.endswith("?") else f"; see '{exc.ctx.command_path} --help'"
        print_error(f"{message}{hint}")
        sys.exit(exc.exit_code)
    except _CLICK_EXCEPTION as exc:
        print_error(exc.format_message())
        sys.exit(exc.exit_code)
    except typer.Abort:
        print_error("aborted")
        sys.exit(1)
    except LabelstreamError as exc:
        if debug:
            raise
        # several invalid settings: one error line each
        for line in str(exc).splitlines() if isinstance(exc, ConfigError) else [str(exc)]:
            print_error(line)
        sys.exit(2)
    except OSError as exc:  # `labelstream ... | head`: the reader left, not an error
        if exc.errno != errno.EPIPE:
            raise
        _silence_stdout()
        sys.exit(0)
    sys.exit(result if isinstance(result, int) else 0)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
