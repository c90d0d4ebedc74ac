"""``labelstream bench quality``: every query strategy and the baselines on public streams, and each labeling
method on vs off; ``--out`` writes the sections of BENCHMARKS.md."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from labelstream.cli.bench_cmd import OutOption, write_markdown
from labelstream.cli.output import JsonFlag, Table, print_json, say

if TYPE_CHECKING:
    from labelstream.simulate.coverage import Variant
    from labelstream.simulate.methods import MethodRun
    from labelstream.simulate.quality import RunResult


class Part(StrEnum):
    all = "all"
    strategies = "strategies"
    methods = "methods"
    coverage = "coverage"


def _methods(quick: bool, jobs: int, out: Path | None, only: tuple[str, ...] = (), print_section: bool = True) -> dict[str, Any]:
    """The labeling-methods rows: each capability on vs off (section "quality-methods", or one section a
    capability with ``--capability``); returns them as JSON-able data."""
    from labelstream.simulate.methods import capabilities, methods_json, methods_markdown, run_methods_bench

    unknown = [c for c in only if c not in capabilities()]
    if unknown:
        raise typer.BadParameter(f"unknown capability {unknown[0]!r}; choose one of {', '.join(capabilities())}",
                                 param_hint="--capability")

    def show(run: MethodRun) -> None:
        precision = "-" if run.auto_precision is None else f"{run.auto_precision:.1%}"
        say(f"{run.stream:10s} {run.config:26s} seed {run.seed}: auto {run.auto_share:6.1%} at {precision:>6}  ({run.seconds:.0f} s)")

    summary = run_methods_bench(quick=quick, jobs=jobs, on_result=show, only=only)
    command = "labelstream bench quality --part methods" + (" --quick" if quick else "")
    command += "".join(f" --capability '{c}'" for c in only)
    section = "quality-methods" + "".join("-" + c.replace(" ", "-") for c in only)
    write_markdown(out, section, methods_markdown(summary, command), show=print_section)
    return methods_json(summary, command)


def parse_variant(spec: str) -> Variant:
    """``"NAME:key=value,key=value"`` (policy settings; values JSON or plain strings) -> a :class:`Variant`."""
    from labelstream.errors import LabelstreamError
    from labelstream.simulate.coverage import Variant

    name, _, assignments = spec.partition(":")
    policy: dict[str, Any] = {}
    for item in filter(None, assignments.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LabelstreamError(f"invalid --variant {spec!r}: give NAME:key=value,..., e.g. overall:guarantee=overall")
        try:
            policy[key.strip()] = json.loads(value)
        except ValueError:
            policy[key.strip()] = value
    if not name.strip():
        raise LabelstreamError(f"invalid --variant {spec!r}: give NAME:key=value,..., e.g. overall:guarantee=overall")
    return Variant(name.strip(), policy)


def _coverage(quick: bool, jobs: int, variants: list[str], out: Path | None, show_table: bool) -> dict[str, Any]:
    """The coverage table: the defaults (and variants) against the hindsight oracle (section "coverage");
    returns it as JSON-able data."""
    from labelstream.simulate.coverage import (
        COLUMNS,
        DEFAULT,
        CoverageRun,
        coverage_json,
        coverage_markdown,
        run_coverage,
        table_rows,
    )

    parsed = [DEFAULT, *(parse_variant(v) for v in variants)]

    def show(run: CoverageRun) -> None:
        name = f"threshold {run.threshold}" if run.threshold is not None else f"{run.reviewer} / {run.variant}"
        precision = "-" if run.auto_precision is None else f"{run.auto_precision:.1%}"
        say(f"{run.stream:14s} {name:46s} auto {run.auto_share:6.1%} at {precision:>6}  ({run.seconds:.0f} s)")

    summary = run_coverage(parsed, quick=quick, jobs=jobs, on_run=show)
    command = "labelstream bench quality --part coverage" + (" --quick" if quick else "")
    command += "".join(f" --variant '{v}'" for v in variants)
    if show_table:
        table = Table(*COLUMNS, title="coverage")
        for row in table_rows(summary):
            table.add_row(*row)
        table.print()
    write_markdown(out, "coverage", coverage_markdown(summary, command), show=False)
    return coverage_json(summary, command)


def quality(
    quick: Annotated[bool, typer.Option("--quick", help="Shorter streams and a coarser oracle grid.")] = False,
    jobs: Annotated[int, typer.Option(help="Parallel simulations.", min=1)] = min(2, os.cpu_count() or 1),
    strategy: Annotated[Optional[str], typer.Option(help="The strategy whose targets are checked (default: policy.strategy).")] = None,  # noqa: UP007
    part: Annotated[Part, typer.Option(help="strategies (query strategies, baselines, oracle), methods (labeling methods on vs off), coverage (the defaults against the hindsight oracle, instant and late/noisy reviewers) or all.")] = Part.all,
    variant: Annotated[list[str], typer.Option(metavar="<name:key=value,...>", help="--part coverage: also run this variant of the policy settings, NAME:key=value,... (repeatable).")] = [],  # noqa: B006 - typer needs a list default
    out: OutOption = None,
    capability: Annotated[Optional[list[str]], typer.Option(metavar="<name>", help="With --part methods: only this capability (repeatable; "  # noqa: UP007
                          "its own section of --out).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Simulate Phishing, Bananas, SEA and Agrawal with an abrupt drift: each strategy, the baselines, the oracle;
    the coverage table (the defaults against the hindsight oracle); and each labeling method on vs off.

    The labeling methods (--part methods): labeling functions, warm start, text, self-training, committee and
    class imbalance; --capability NAME runs one of them. --json prints one object with a key per part run
    (coverage, methods, strategies; shares as fractions) instead of the tables.
    """
    result: dict[str, Any] = {}
    if part in (Part.all, Part.coverage):
        result["coverage"] = _coverage(quick, jobs, variant, out, show_table=not as_json)
    if part in (Part.all, Part.methods):
        result["methods"] = _methods(quick, jobs, out, tuple(capability or ()), print_section=not as_json)
    if part in (Part.all, Part.strategies):
        result["strategies"] = _strategies(quick, jobs, strategy, out, show=not as_json)
    if as_json:
        print_json(result)


def _strategies(quick: bool, jobs: int, strategy: str | None, out: Path | None, show: bool) -> dict[str, Any]:
    """Every query strategy, the baselines and the oracle's grid on each stream (section "quality"); returns them
    as JSON-able data."""
    from labelstream.simulate.quality import run_bench
    from labelstream.simulate.quality_markdown import COLUMNS, quality_json, quality_markdown, stream_rows

    def progress(result: RunResult) -> None:
        share = f"{result.auto_share:.1%}"
        precision = "-" if result.auto_precision is None else f"{result.auto_precision:.1%}"
        say(f"{result.stream:14s} {result.config.name:42s} auto {share:>6} at {precision:>6}  ({result.seconds:.0f} s)")

    summary = run_bench(quick=quick, jobs=jobs, default_strategy=strategy, on_result=progress)
    command = "labelstream bench quality" + (" --quick" if quick else "")
    data = quality_json(summary, command)
    if show:
        for entry in summary["streams"]:
            table = Table(*COLUMNS, title=entry["stream"].dataset)
            for row in stream_rows(entry):
                table.add_row(*row)
            table.print()
    write_markdown(out, "quality", quality_markdown(summary, command), show=False)
    if show:
        missed = data["targets_missed"]
        print(f"targets missed: {len(missed)}" + "".join(f"\n  {m['stream']}: {m['target']}" for m in missed))
    return data
