"""``labelstream``: one command for the stack, the services, simulation and benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from labelstream import __version__
from labelstream.cli import (
    bench_cmd,
    datasets_cmd,
    demo_cmd,
    lf_cmd,
    models_cmd,
    produce_cmd,
    quality_cmd,
    run_cmd,
    schemas_cmd,
    simulate_cmd,
    topics_cmd,
)
from labelstream.cli.context import CliState
from labelstream.errors import LabelstreamError

console = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    name="labelstream",
    help="Streaming auto-labeling on Apache Kafka: an online model labels records, "
    "humans review the uncertain ones, the model learns from their answers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
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


def main() -> None:
    """Entry point: user errors are printed without a traceback unless --debug."""
    try:
        app()
    except LabelstreamError as exc:
        if "--debug" in sys.argv:
            raise
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
