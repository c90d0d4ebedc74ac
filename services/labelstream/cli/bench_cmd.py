"""``labelstream bench``: benchmarks that print their figures (and write them into BENCHMARKS.md with ``--out``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, command_group, print_json, say

app = command_group("Benchmarks: figures printed; --out FILE also writes them into that Markdown file (BENCHMARKS.md).")

#: the ``--out`` option of every benchmark: nothing is written unless asked
OutOption = Annotated[
    Optional[Path],  # noqa: UP007 - typer needs Optional
    typer.Option(
        "--out",
        help="Replace this benchmark's section of this Markdown file (e.g. BENCHMARKS.md); default: print only.",
    ),
]


def write_markdown(out: Path | None, name: str, body: str, show: bool = True) -> None:
    """Print ``body`` (unless not ``show``); with ``out``, also replace the benchmark's section of that file."""
    from labelstream.bench.markdown import write_section

    if show:
        print(body)
    if out is not None:
        write_section(out, name, body)
        say(f"written to {out}")


class ThroughputPart(StrEnum):
    all = "all"
    scaling = "scaling"


@app.command("throughput")
def throughput(
    ctx: typer.Context,
    records: Annotated[int, typer.Option(help="Records for the throughput runs.", min=1000)] = 200_000,
    quick: Annotated[bool, typer.Option("--quick", help="Smaller sizes, one round (a few minutes).")] = False,
    repeat: Annotated[
        Optional[int],  # noqa: UP007 - typer needs Optional
        typer.Option(
            help="Rounds of pass-through / labeler / peer (default 3, 1 with --quick); medians reported.", min=1
        ),
    ] = None,
    peer: Annotated[
        bool, typer.Option(help="Also run the Quix Streams peer (its venv is made once, in .stack/).")
    ] = True,
    scaling_rounds: Annotated[
        Optional[int],  # noqa: UP007 - typer needs Optional
        typer.Option(
            help="Pairs of one- / two-labeler runs, interleaved (default 2, 1 with --quick); median ratio.", min=1
        ),
    ] = None,
    part: Annotated[
        ThroughputPart,
        typer.Option(help="scaling: only the one- vs two-labeler runs (their paragraph printed; no --out)."),
    ] = ThroughputPart.all,
    out: OutOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Labeler vs raw pass-through and a Quix Streams peer on the local broker: records/s, CPU, RSS, latency, scaling."""
    from labelstream.bench.throughput import BenchConfig, ThroughputBench
    from labelstream.bench.throughput_report import scaling_markdown, throughput_markdown
    from labelstream.errors import LabelstreamError

    if part != ThroughputPart.all and out is not None:
        raise LabelstreamError(
            f"--out writes the whole throughput section: run without --part {part} to write it "
            "(see 'labelstream bench throughput --help')"
        )
    config = BenchConfig.quick() if quick else BenchConfig(records=records)
    config.repeat = repeat or config.repeat
    config.peer = peer
    config.scaling_rounds = scaling_rounds or config.scaling_rounds
    command = "labelstream bench throughput" + (" --quick" if quick else f" --records {records}")
    command += (f" --repeat {repeat}" if repeat else "") + ("" if peer else " --no-peer")
    command += f" --scaling-rounds {scaling_rounds}" if scaling_rounds else ""
    bench = ThroughputBench(state(ctx).settings(), config, say=say)
    if part == ThroughputPart.scaling:
        results = bench.run_scaling()
        results["command"] = command + " --part scaling"
        if as_json:
            print_json(results)
        else:
            print(scaling_markdown(results["scaling"], results["machine"]["cpus"] or 2))
        return
    results = bench.run()
    results["command"] = command
    write_markdown(out, "throughput", throughput_markdown(results), show=not as_json)
    if as_json:
        print_json(results)


@app.command("label-errors")
def label_errors(
    error_rate: Annotated[
        float, typer.Option(help="Share of wrong answers of every simulated reviewer.", min=0, max=1)
    ] = 0.05,
    min_confidence: Annotated[
        str, typer.Option(help="label_errors.min_confidence values to compare with off, e.g. 0.7,0.8,0.9.")
    ] = "0.8",
    seeds: Annotated[int, typer.Option(help="Seeds per configuration.", min=1)] = 3,
    quick: Annotated[bool, typer.Option("--quick", help="A shorter SEA stream (3000 records).")] = False,
    out: OutOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Label-error detection in process: wrong human labels that reach the model, and extra reviews, off vs on."""
    from labelstream.errors import LabelstreamError
    from labelstream.simulate.label_errors import label_errors_markdown, run_label_error_bench
    from labelstream.simulate.quality import machine

    try:
        levels = tuple(float(value) for value in min_confidence.split(","))
    except ValueError:
        raise LabelstreamError(
            f"invalid --min-confidence {min_confidence!r}: give numbers, e.g. 0.8 or 0.7,0.9"
        ) from None
    command = (
        f"labelstream bench label-errors --error-rate {error_rate} --min-confidence {min_confidence} --seeds {seeds}"
        + (" --quick" if quick else "")
    )
    result = run_label_error_bench(
        error_rate,
        levels,
        tuple(range(1, seeds + 1)),
        quick,
        on_run=lambda run: say(
            f"{run['dataset']} seed {run['seed']} detection {run['detection']}: "
            f"{run['wrong_learned']} of {run['wrong_answers']} wrong answers learned"
        ),
    )
    write_markdown(out, "label-errors", label_errors_markdown(result, command, machine()), show=not as_json)
    if as_json:
        print_json({key: value for key, value in result.items() if key != "runs"})


@app.command("hot-path")
def hot_path(ctx: typer.Context, out: OutOption = None, as_json: JsonFlag = False) -> None:
    """Per-record cost of each hot-path stage, in process (no Kafka): what bounds the labeler."""
    import dataclasses

    from labelstream.bench.hot_path import hot_path_markdown, hot_path_measure
    from labelstream.bench.throughput import machine

    costs, ideas = hot_path_measure(state(ctx).settings())
    facts = machine()
    write_markdown(out, "hot-path", hot_path_markdown(costs, facts, ideas=ideas), show=not as_json)
    if as_json:
        print_json({"machine": facts, "us_per_record": costs, "ideas": [dataclasses.asdict(i) for i in ideas]})


@app.command("soundness")
def soundness(
    seeds: Annotated[int, typer.Option(help="Runs (seeds) per stream and reviewer.", min=1)] = 100,
    records: Annotated[int, typer.Option(help="Records per run.", min=1000)] = 30_000,
    jobs: Annotated[int, typer.Option(help="Parallel simulations (the machine is shared: 2 at most).", min=1)] = 2,
    stream: Annotated[
        list[str] | None,
        typer.Option(
            metavar="<offset>",
            help="A stream by its ceiling's offset from the target: -0.01, -0.02, +0.01, +0.03 (repeat; "
            "default -0.01, -0.02, +0.01).",
        ),
    ] = None,
    reviewer: Annotated[
        list[str] | None,
        typer.Option(
            metavar="<reviewer>",
            help="A reviewer row, from the list above (repeat; default instant, late-noisy, late-noisy-overlap).",
        ),
    ] = None,
    out: OutOption = None,
    as_json: JsonFlag = False,
) -> None:
    """How often the contract ever auto-labels under a threshold below the target (noisy SEA streams).

    Reviewer rows (--reviewer; "late": 500 records late):

    \b
      instant                        exact, at once
      late-noisy                     late, wrong 3 %, accuracy 0.97 told
      late-noisy-overlap             the same, accuracy from 20 % overlap
      late-noisy-gold                the same, accuracy from 10 % gold items
      late-noisy-gold-enriched       the same, the conditional gold bound,
                                     a gold set half wrong proposals
      late-with-model                late, right where the model is, taking
                                     half its wrong proposals; 0.97 told
      late-with-model-default        the same, nothing told
      late-with-model-overlap        the same, accuracy from 20 % overlap
      late-with-model-gold           the same, the conditional gold bound
                                     (10 % gold items)
      late-with-model-gold-enriched  the same, a gold set half wrong proposals
      pool-default                   late, three reviewers wrong 1, 2 and 25 %,
                                     equal shares; nothing told
      pool-gold                      the same, accuracy from 10 % gold items
      pool-gold-holds                the same, the 25 % one held by the review
                                     service's rule below 0.9
      pool-default-holds             nothing told, 10 % gold items for holds
      pool-gold-weighted             accuracy from 10 % gold items, each
                                     reviewer's own, weighed by the stream
      pool-gold-weighted-holds       the same, holds below 0.9
      late-with-model-gold-weighted  late-with-model-gold, the conditional
                                     bound per reviewer
      pool-with-model-gold           late, three reviewers right where the
                                     model is, taking 5, 10 and 90 % of its
                                     wrong proposals; the conditional bound
      pool-with-model-gold-weighted  the same, the conditional bound per
                                     reviewer
    """
    from labelstream.errors import LabelstreamError
    from labelstream.simulate.soundness import (
        DEFAULT_REVIEWERS,
        DEFAULT_STREAMS,
        REVIEWER_KEYS,
        STREAM_KEYS,
        RunOutcome,
        SoundnessConfig,
        cells,
        run_bench,
        soundness_json,
        soundness_markdown,
    )

    streams, reviewers = tuple(stream or DEFAULT_STREAMS), tuple(reviewer or DEFAULT_REVIEWERS)
    for value, known, flag in ((streams, STREAM_KEYS, "--stream"), (reviewers, REVIEWER_KEYS, "--reviewer")):
        unknown = [v for v in value if v not in known]
        if unknown:
            raise LabelstreamError(f"invalid {flag} {unknown[0]!r}: use one of {', '.join(known)}")
    chosen = cells(streams, reviewers)
    config = SoundnessConfig(records=records, seeds=seeds)
    total = len(chosen) * seeds
    done: list[RunOutcome] = []

    def show(result: RunOutcome) -> None:
        done.append(result)
        verdict = "FAILED" if result.failed else "ok"
        say(
            f"[{len(done)}/{total}] {result.stream:20s} {result.reviewer:32s} seed {result.seed:3d} {verdict:6s} "
            f"auto {result.auto_share:6.1%}  ({result.seconds:.0f} s)"
        )

    summary = run_bench(config, jobs, show, chosen)
    command = "labelstream bench soundness" + (
        "" if (seeds, records) == (100, 30_000) else f" --seeds {seeds} --records {records}"
    )
    if streams != DEFAULT_STREAMS:
        command += "".join(f" --stream={s}" for s in streams)
    if reviewers != DEFAULT_REVIEWERS:
        command += "".join(f" --reviewer {r}" for r in reviewers)
    write_markdown(out, "soundness", soundness_markdown(summary, command), show=not as_json)
    if as_json:
        print_json(soundness_json(summary, command))
    broken = [c for c in summary["cells"] if c.failure_rate()["rate"] > 1 - config.confidence_level]
    say(f"promise broken in {len(broken)} of {len(summary['cells'])} rows")
