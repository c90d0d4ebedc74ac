"""``labelstream bench quality``: every query strategy and the baselines on public streams, into BENCHMARKS.md."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from labelstream.simulate.quality import RunResult, run_bench
from labelstream.simulate.quality_markdown import COLUMNS, quality_markdown, stream_rows

console = Console()


class Part(StrEnum):
    all = "all"
    strategies = "strategies"
    methods = "methods"


def _methods(quick: bool, jobs: int, markdown: Path) -> None:
    """The labeling-methods rows: each capability on vs off (section "quality-methods")."""
    from labelstream.bench.markdown import write_section
    from labelstream.simulate.methods import MethodRun, methods_markdown, run_methods_bench

    def show(run: MethodRun) -> None:
        precision = "-" if run.auto_precision is None else f"{run.auto_precision:.1%}"
        console.print(f"{run.stream:10s} {run.config:26s} seed {run.seed}: auto {run.auto_share:6.1%} at {precision:>6}  "
                      f"({run.seconds:.0f} s)")

    summary = run_methods_bench(quick=quick, jobs=jobs, on_result=show)
    body = methods_markdown(summary, "labelstream bench quality --part methods" + (" --quick" if quick else ""))
    write_section(markdown, "quality-methods", body)
    console.print(body, markup=False, highlight=False)


def quality(
    quick: Annotated[bool, typer.Option("--quick", help="Shorter streams and a coarser oracle grid.")] = False,
    jobs: Annotated[int, typer.Option(help="Parallel simulations.", min=1)] = min(2, os.cpu_count() or 1),
    markdown: Annotated[Path, typer.Option(help="Markdown file whose Quality section is replaced.")] = Path("BENCHMARKS.md"),
    strategy: Annotated[Optional[str], typer.Option(help="The strategy whose targets are checked (default: policy.strategy).")] = None,  # noqa: UP007
    part: Annotated[Part, typer.Option(help="strategies (query strategies, baselines, oracle), methods (labeling methods on vs off) or all.")] = "all",  # type: ignore[assignment]
) -> None:
    """Simulate Phishing, Bananas, SEA and Agrawal with an abrupt drift: each strategy, the baselines, the oracle;
    and each labeling method (labeling functions, ...) on vs off."""
    from labelstream.bench.markdown import write_section

    if part in ("all", "methods"):
        _methods(quick, jobs, markdown)
    if part == "methods":
        return

    def show(result: RunResult) -> None:
        share = f"{result.auto_share:.1%}"
        precision = "-" if result.auto_precision is None else f"{result.auto_precision:.1%}"
        console.print(f"{result.stream:14s} {result.config.name:42s} auto {share:>6} at {precision:>6}  ({result.seconds:.0f} s)")

    summary = run_bench(quick=quick, jobs=jobs, default_strategy=strategy, on_result=show)
    command = "labelstream bench quality" + (" --quick" if quick else "")
    for entry in summary["streams"]:
        table = Table(*COLUMNS, title=entry["stream"].dataset)
        for row in stream_rows(entry):
            table.add_row(*row)
        console.print(table)
    body = quality_markdown(summary, command)
    write_section(markdown, "quality", body)
    missed = [(e["stream"].dataset, t["target"]) for e in summary["streams"] for t in e["targets"] if t["met"] is False]
    console.print(f"written to {markdown}; targets missed: {len(missed)}" + "".join(f"\n  {s}: {t}" for s, t in missed))
