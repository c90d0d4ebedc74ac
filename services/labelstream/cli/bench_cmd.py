"""``labelstream bench``: benchmarks that print figures and write them to BENCHMARKS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from labelstream.cli.context import state

app = typer.Typer(help="Benchmarks: figures printed and written to BENCHMARKS.md.", no_args_is_help=True)
console = Console()


@app.command("throughput")
def throughput(
    ctx: typer.Context,
    records: Annotated[int, typer.Option(help="Records for the throughput runs.", min=1000)] = 200_000,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller sizes (about 2 minutes).")] = False,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON here.")] = None,  # noqa: UP007
    markdown: Annotated[Path, typer.Option(help="Markdown file to update.")] = Path("BENCHMARKS.md"),
) -> None:
    """Labeler vs raw pass-through on the local broker: records/s, CPU, latency, model update, scaling."""
    from labelstream.bench.markdown import write_section
    from labelstream.bench.throughput import BenchConfig, ThroughputBench
    from labelstream.bench.throughput_report import throughput_markdown

    config = BenchConfig.quick() if quick else BenchConfig(records=records)
    command = "labelstream bench throughput" + (" --quick" if quick else f" --records {records}")
    results = ThroughputBench(state(ctx).settings(), config, say=lambda line: console.print(line, highlight=False)).run()
    results["command"] = command
    body = throughput_markdown(results)
    write_section(markdown, "throughput", body)
    console.print(body)
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2))
    console.print(f"written to {markdown}" + (f" and {json_path}" if json_path else ""))


@app.command("hot-path")
def hot_path(
    ctx: typer.Context,
    markdown: Annotated[Path, typer.Option(help="Markdown file to update.")] = Path("BENCHMARKS.md"),
) -> None:
    """Per-record cost of each hot-path stage, in process (no Kafka): what bounds the labeler."""
    from labelstream.bench.hot_path import hot_path_costs, hot_path_markdown
    from labelstream.bench.markdown import write_section
    from labelstream.bench.throughput import machine

    body = hot_path_markdown(hot_path_costs(state(ctx).settings()), machine())
    write_section(markdown, "hot-path", body)
    console.print(body)


@app.command("soundness")
def soundness(
    seeds: Annotated[int, typer.Option(help="Runs (seeds) per stream and reviewer.", min=1)] = 100,
    records: Annotated[int, typer.Option(help="Records per run.", min=1000)] = 30_000,
    jobs: Annotated[int, typer.Option(help="Parallel simulations (the machine is shared: 2 at most).", min=1)] = 2,
    markdown: Annotated[Path, typer.Option(help="Markdown file whose Soundness section is replaced.")] = Path("BENCHMARKS.md"),
) -> None:
    """How often the contract ever auto-labels under a threshold below the target (noisy SEA streams)."""
    from labelstream.bench.markdown import write_section
    from labelstream.simulate.soundness import SoundnessConfig, cells, run_bench, soundness_markdown

    config = SoundnessConfig(records=records, seeds=seeds)
    total = len(cells()) * seeds
    done = []

    def show(result) -> None:  # noqa: ANN001 - RunOutcome
        done.append(result)
        failed = "FAILED" if result.failed else "ok"
        console.print(
            f"[{len(done)}/{total}] {result.stream:20s} {result.reviewer:32s} seed {result.seed:3d} {failed:6s} "
            f"auto {result.auto_share:6.1%}  ({result.seconds:.0f} s)", highlight=False,
        )

    summary = run_bench(config, jobs, show)
    command = "labelstream bench soundness" + ("" if (seeds, records) == (100, 30_000) else f" --seeds {seeds} --records {records}")
    body = soundness_markdown(summary, command)
    write_section(markdown, "soundness", body)
    console.print(body, soft_wrap=True)
    broken = [c for c in summary["cells"] if c.failure_rate()["rate"] > 1 - config.confidence_level]
    console.print(f"written to {markdown}; promise broken in {len(broken)} of {len(summary['cells'])} rows")
