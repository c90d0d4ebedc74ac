"""The soundness benchmark: how often does the contract ever auto-label under a threshold that is too bad?

Streams are SEA (``x1 + x2 <= 8``, three features, the logistic model) with
uniform label noise: each label is flipped with probability ``r``. Whatever a
model predicts, a prediction agrees with the noisy label with probability at
most ``1 - r`` in every region of the feature space, so ``1 - r`` is the
*ceiling* of the precision of every threshold of every model version.

- **Below the target** (``r`` gives a ceiling of target - 0.01 or - 0.02):
  every threshold is bad, so a run fails as soon as it emits one auto-label
  (relabels included).
- **Above** (ceiling target + 0.01, + 0.03): a run fails when, at a checkpoint
  (every ``checkpoint`` records), a class with a threshold in force and
  auto-labels emitted since the previous checkpoint has a true precision
  above that threshold below the target. True precision is computed exactly
  from the clean labels of a held-out sample: a prediction agreeing with the
  clean label is right with probability ``1 - r``, otherwise with ``r``.

The contract promises a failure rate of at most ``1 - confidence_level``;
each stream runs with ``seeds`` seeds, and the rate is reported with its
Clopper–Pearson interval. Reviewers: instant and exact (the oracle), late
(``delay``), or wrong with probability ``error_rate`` (independently of the
model, and the policy told so with ``policy.reviewer_accuracy``), or following
the model (``late-with-model*``: right where it is, accepting half its wrong
proposals; the default, told, overlap and conditional-gold contracts), or a
pool of three (``pool-*``: wrong 1, 2 and 25 % of the time, sharing the
answers equally, 500 records late; the default bar, or the gold accuracy
bound, with or without the review service's holds at 0.9); precision is
always against the stream's (noisy) label, never against the reviewers'
answers.

>>> stream = SoundnessStream("ceiling -0.01", ceiling_offset=-0.01)
>>> round(stream.noise(0.95), 2)
0.06
>>> rows = list(stream.rows(size=3, seed=1, target=0.95))
>>> rows[0].payload["features"], rows[0].label in ("True", "False")
({'0': 1.3436424411240122, '1': 8.474337369372327, '2': 7.6377461897661405}, True)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from river.datasets import synth

from labelstream.core.bounds import two_sided
from labelstream.datafile import Row
from labelstream.settings import load_settings
from labelstream.simulate.quality import machine
from labelstream.simulate.reviewer import ErrorMode, SimulatedReviewer
from labelstream.simulate.reviewer_pool import ReviewerPool
from labelstream.simulate.runner import Simulation

HOLDOUT_SIZE = 5000


@dataclass(frozen=True)
class SoundnessStream:
    """SEA with uniform label noise whose ceiling is ``target + ceiling_offset``."""

    name: str
    ceiling_offset: float

    def noise(self, target: float) -> float:
        """The flip probability: ``1 - ceiling``."""
        return 1.0 - (target + self.ceiling_offset)

    @property
    def below_target(self) -> bool:
        return self.ceiling_offset < 0

    def clean(self, size: int, seed: int) -> Iterator[tuple[dict[str, float], bool]]:
        return iter(synth.SEA(variant=0, seed=seed).take(size))

    def rows(self, size: int, seed: int, target: float) -> Iterator[Row]:
        """The noisy stream as rows of a labeled file (ids ``<seed>-<index>``)."""
        flips = random.Random(seed * 7919 + 17)
        noise = self.noise(target)
        for index, (x, y) in enumerate(self.clean(size, seed)):
            label = (not y) if flips.random() < noise else y
            yield Row(index + 2, b"", {"id": f"{seed}-{index}", "features": _features(x)}, str(label))


@dataclass(frozen=True)
class ReviewerConfig:
    """How the simulated reviewer answers."""

    name: str
    delay: str = "0"
    error_rate: float = 0.0
    assumed_accuracy: float = 1.0  # policy.reviewer_accuracy of the runs
    overlap_share: float = 0.0  # review.overlap_share: a second answer, and policy.reviewer_accuracy_from_overlap
    gold_share: float = 0.0  # review.gold_share: a gold answer, and policy.reviewer_accuracy_from_gold
    errors: ErrorMode = "independent"  # SimulatedReviewer's errors
    gold_bound: str = "accuracy"  # policy.gold_bound
    gold_wrong_share: float | None = None  # SimulatedGoldSet: a gold set with this share of wrong proposals
    pool_error_rates: tuple[float, ...] = ()  # a ReviewerPool, one rate a reviewer, equal shares (error_rate unused)
    hold_below: float = 0.0  # review.gold_hold_below: the pool's holds (gold_hold_min_answers at its default)
    use_gold: bool = True  # policy.reviewer_accuracy_from_gold when gold_share > 0 (False: gold items serve holds only)

    def build(self, seed: int, hold_min_answers: int = 10) -> SimulatedReviewer | ReviewerPool:
        if self.pool_error_rates:
            return ReviewerPool(
                self.pool_error_rates,
                delay=self.delay,
                errors=self.errors,
                hold_below=self.hold_below,
                hold_min_answers=hold_min_answers,
                seed=seed,
            )
        return SimulatedReviewer(self.delay, self.error_rate, self.errors, seed=seed)


@dataclass(frozen=True)
class SoundnessConfig:
    """What every run shares."""

    records: int = 30_000
    seeds: int = 100
    target_precision: float = 0.95
    confidence_level: float = 0.95
    review_budget_share: float = 0.3
    checkpoint: int = 1000
    deferred_ttl: int = 2000
    batch_size: int = 10
    policy: dict[str, Any] = field(default_factory=dict)  # overrides (tests run the harness on other policies)


@dataclass
class RunOutcome:
    """One seed of one stream and reviewer."""

    stream: str
    reviewer: str
    seed: int
    failed: bool
    auto_share: float
    auto_precision: float | None
    first_failure: int | None = None
    seconds: float = 0.0


@dataclass
class Cell:
    """All seeds of one stream and reviewer."""

    stream: SoundnessStream
    reviewer: ReviewerConfig
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(r.failed for r in self.runs)

    def failure_rate(self, confidence_level: float = 0.95) -> dict[str, float]:
        n = len(self.runs)
        rate = self.failures / n if n else float("nan")
        interval = two_sided(rate, n, confidence_level)
        return {"rate": rate, "lower": interval.lower, "upper": interval.upper}

    def auto_labeled(self) -> int:
        """Runs that emitted at least one auto-label (a run that never does cannot fail)."""
        return sum(r.auto_share > 0 for r in self.runs)

    def mean_auto_share(self) -> float:
        return sum(r.auto_share for r in self.runs) / len(self.runs) if self.runs else float("nan")


POOL = (0.01, 0.02, 0.25)
"""The pool rows' reviewers: two good, one bad (their pooled accuracy 0.907)."""

FOLLOWERS = (0.05, 0.1, 0.9)
"""The follower pool's reviewers: right wherever the model is, taking 5, 10 and 90 % of its wrong proposals."""

STREAMS = (
    SoundnessStream("ceiling target-0.01", -0.01),
    SoundnessStream("ceiling target-0.02", -0.02),
    SoundnessStream("ceiling target+0.01", +0.01),
    SoundnessStream("ceiling target+0.03", +0.03),
)
REVIEWERS = (
    ReviewerConfig("instant"),
    ReviewerConfig("delay 500", delay="500"),
    ReviewerConfig("wrong 3 %, accuracy 0.97 assumed", error_rate=0.03, assumed_accuracy=0.97),
    ReviewerConfig("delay 500 + wrong 3 %", delay="500", error_rate=0.03, assumed_accuracy=0.97),
    ReviewerConfig(
        "delay 500 + wrong 3 %, accuracy from 20 % overlap", delay="500", error_rate=0.03, overlap_share=0.2
    ),
    ReviewerConfig("delay 500 + wrong 3 %, accuracy from 10 % gold", delay="500", error_rate=0.03, gold_share=0.1),
    # Reviewers who follow the model: right where it is, accepting half its wrong proposals (about 3 % of answers
    # wrong at the -0.01 ceiling); the first told 0.97 as the late-noisy one is, the others the default's 1.
    ReviewerConfig(
        "delay 500 + follows model 50 %, accuracy 0.97 assumed",
        delay="500",
        error_rate=0.5,
        assumed_accuracy=0.97,
        errors="follows_model",
    ),
    ReviewerConfig("delay 500 + follows model 50 %", delay="500", error_rate=0.5, errors="follows_model"),
    ReviewerConfig(
        "delay 500 + follows model 50 %, accuracy from 20 % overlap",
        delay="500",
        error_rate=0.5,
        overlap_share=0.2,
        errors="follows_model",
    ),
    ReviewerConfig(
        "delay 500 + follows model 50 %, conditional bound from 10 % gold",
        delay="500",
        error_rate=0.5,
        gold_share=0.1,
        errors="follows_model",
        gold_bound="conditional",
    ),
    # The same, the gold set enriched: half its proposals wrong (B learns from many more answers)
    ReviewerConfig(
        "delay 500 + follows model 50 %, conditional bound from 10 % gold, half wrong proposals",
        delay="500",
        error_rate=0.5,
        gold_share=0.1,
        errors="follows_model",
        gold_bound="conditional",
        gold_wrong_share=0.5,
    ),
    ReviewerConfig(
        "delay 500 + wrong 3 %, conditional bound from 10 % gold, half wrong proposals",
        delay="500",
        error_rate=0.03,
        gold_share=0.1,
        gold_bound="conditional",
        gold_wrong_share=0.5,
    ),
    # A pool of three, one bad (issue #11): wrong 1, 2 and 25 % of the time, equal shares, 500 records late
    ReviewerConfig("pool 1/2/25 % wrong, delay 500, nothing told", delay="500", pool_error_rates=POOL),
    ReviewerConfig(
        "pool 1/2/25 % wrong, delay 500, accuracy from 10 % gold", delay="500", pool_error_rates=POOL, gold_share=0.1
    ),
    ReviewerConfig(
        "pool 1/2/25 % wrong, delay 500, accuracy from 10 % gold, holds below 0.9",
        delay="500",
        pool_error_rates=POOL,
        gold_share=0.1,
        hold_below=0.9,
    ),
    ReviewerConfig(
        "pool 1/2/25 % wrong, delay 500, nothing told, 10 % gold, holds below 0.9",
        delay="500",
        pool_error_rates=POOL,
        gold_share=0.1,
        hold_below=0.9,
        use_gold=False,
    ),
    # The same with the stream-share-weighted gold bound (each answer held to its own reviewer's bound)
    ReviewerConfig(
        "pool 1/2/25 % wrong, delay 500, weighted accuracy from 10 % gold",
        delay="500",
        pool_error_rates=POOL,
        gold_share=0.1,
        gold_bound="weighted",
    ),
    ReviewerConfig(
        "pool 1/2/25 % wrong, delay 500, weighted accuracy from 10 % gold, holds below 0.9",
        delay="500",
        pool_error_rates=POOL,
        gold_share=0.1,
        hold_below=0.9,
        gold_bound="weighted",
    ),
    # The conditional bound per reviewer (policy.gold_bound "conditional-weighted"): late-with-model-gold's twin (one
    # reviewer: the pooled bound at half its alpha), and a pool of followers, pooled and per reviewer
    ReviewerConfig(
        "delay 500 + follows model 50 %, conditional bound per reviewer from 10 % gold",
        delay="500",
        error_rate=0.5,
        gold_share=0.1,
        errors="follows_model",
        gold_bound="conditional-weighted",
    ),
    ReviewerConfig(
        "pool follows model 5/10/90 %, delay 500, conditional bound from 10 % gold",
        delay="500",
        pool_error_rates=FOLLOWERS,
        errors="follows_model",
        gold_share=0.1,
        gold_bound="conditional",
    ),
    ReviewerConfig(
        "pool follows model 5/10/90 %, delay 500, conditional bound per reviewer from 10 % gold",
        delay="500",
        pool_error_rates=FOLLOWERS,
        errors="follows_model",
        gold_share=0.1,
        gold_bound="conditional-weighted",
    ),
)


def run_one(stream: SoundnessStream, reviewer: ReviewerConfig, seed: int, config: SoundnessConfig) -> RunOutcome:
    """One run: the contract over ``config.records`` records of the stream; whether it ever failed."""
    settings = load_settings(
        model={"name": "logistic", "seed": seed},
        policy={
            "target_precision": config.target_precision,
            "confidence_level": config.confidence_level,
            "review_budget_share": config.review_budget_share,
            "seed": seed,
            "reviewer_accuracy": reviewer.assumed_accuracy,
            "reviewer_accuracy_from_overlap": reviewer.overlap_share > 0,
            "reviewer_accuracy_from_gold": reviewer.gold_share > 0 and reviewer.use_gold,
            "gold_bound": reviewer.gold_bound,
            **config.policy,
        },
        review={
            "overlap_share": reviewer.overlap_share,
            "gold_share": reviewer.gold_share,
            "gold_hold_below": reviewer.hold_below,
        },
    )
    started = time.perf_counter()
    checker = _Checkpoints(stream, seed, config) if not stream.below_target else None
    simulation = Simulation(
        settings,
        batch_size=config.batch_size,
        deferred_ttl=config.deferred_ttl,
        reviewer=reviewer.build(seed, settings.review.gold_hold_min_answers),
        gold_wrong_share=reviewer.gold_wrong_share,
    )
    if checker is not None:
        simulation.on_record = lambda done: checker.check(simulation, done)
    result = simulation.run(stream.rows(config.records, seed, config.target_precision))
    auto = [o for o in result.outcomes if o.auto]
    if stream.below_target:
        first = min((o.index for o in auto), default=None)
    else:
        first = checker.first_failure
    return RunOutcome(
        stream.name,
        reviewer.name,
        seed,
        first is not None,
        result.report["auto_share"] or 0.0,
        result.report["auto_precision"],
        first,
        time.perf_counter() - started,
    )


class _Checkpoints:
    """True precision above each class's threshold in force, at checkpoints, on a clean held-out sample."""

    def __init__(self, stream: SoundnessStream, seed: int, config: SoundnessConfig) -> None:
        self.config = config
        self.noise = stream.noise(config.target_precision)
        holdout = list(stream.clean(HOLDOUT_SIZE, seed + 1_000_003))
        self.features = [_features(x) for x, _ in holdout]
        self.clean = [str(y) for _, y in holdout]
        self.next_at = config.checkpoint
        self.auto_seen: dict[str, int] = {}
        self.first_failure: int | None = None

    def check(self, simulation: Simulation, done: int) -> None:
        if done < self.next_at or self.first_failure is not None:
            return
        self.next_at += self.config.checkpoint
        auto = {}
        for o in simulation.outcomes:
            if o.auto:
                auto[o.label] = auto.get(o.label, 0) + 1
        emitting = {label for label, n in auto.items() if n > self.auto_seen.get(label, 0)}
        self.auto_seen = auto
        thresholds = _thresholds(simulation.engine.policy)
        if not emitting or not thresholds:
            return
        predictions = simulation.engine.predict(self.features)
        for label, threshold in thresholds.items():
            if label not in emitting:
                continue
            region = [
                (p.label == y)
                for p, y in zip(predictions, self.clean, strict=True)
                if p.label == label and p.confidence >= threshold
            ]
            if not region:
                continue
            agree = sum(region) / len(region)
            precision = (1.0 - self.noise) * agree + self.noise * (1.0 - agree)
            if precision < self.config.target_precision:
                self.first_failure = done
                return


def _thresholds(policy: Any) -> dict[str, float]:
    """Each class's threshold in force (the contract's proven ones; a fixed threshold policy's for every class)."""
    if hasattr(policy, "calibrator"):  # the contract's in force: proven, and validated for the current version
        return {c: t for c, t in policy.thresholds().items() if t is not None}
    return {label: policy.confidence_threshold for label in ("True", "False")}


def _features(x: dict[Any, float]) -> dict[str, float]:
    return {str(k): float(v) for k, v in x.items()}


def _run_job(job: tuple[SoundnessStream, ReviewerConfig, int, SoundnessConfig]) -> RunOutcome:
    return run_one(*job)


STREAM_KEYS = {"-0.01": STREAMS[0], "-0.02": STREAMS[1], "+0.01": STREAMS[2], "+0.03": STREAMS[3]}
REVIEWER_KEYS = {
    "instant": REVIEWERS[0],
    "late-noisy": REVIEWERS[3],
    "late-noisy-overlap": REVIEWERS[4],
    "late-noisy-gold": REVIEWERS[5],
    "late-with-model": REVIEWERS[6],
    "late-with-model-default": REVIEWERS[7],
    "late-with-model-overlap": REVIEWERS[8],
    "late-with-model-gold": REVIEWERS[9],
    "late-with-model-gold-enriched": REVIEWERS[10],
    "late-noisy-gold-enriched": REVIEWERS[11],
    "pool-default": REVIEWERS[12],
    "pool-gold": REVIEWERS[13],
    "pool-gold-holds": REVIEWERS[14],
    "pool-default-holds": REVIEWERS[15],
    "pool-gold-weighted": REVIEWERS[16],
    "pool-gold-weighted-holds": REVIEWERS[17],
    "late-with-model-gold-weighted": REVIEWERS[18],
    "pool-with-model-gold": REVIEWERS[19],
    "pool-with-model-gold-weighted": REVIEWERS[20],
}
DEFAULT_STREAMS = ("-0.01", "-0.02", "+0.01")
DEFAULT_REVIEWERS = ("instant", "late-noisy", "late-noisy-overlap")  # late-noisy-gold: chosen with --reviewer


def cells(
    streams: tuple[str, ...] = DEFAULT_STREAMS,
    reviewers: tuple[str, ...] = DEFAULT_REVIEWERS,
) -> list[tuple[SoundnessStream, ReviewerConfig]]:
    """Each stream (its ceiling's offset from the target: by default -0.01, -0.02 and +0.01) with each reviewer
    (by default the instant one and the late-and-noisy one, told its accuracy or measuring it on overlap items;
    ``late-noisy-gold``, measuring it on gold items, only when chosen).

    (``--reviewer-delay 500 --reviewer-error-rate 0.03``: the issue's pair of real-people conditions at once.)

    >>> [(s.name, r.name) for s, r in cells(("-0.01",), ("instant",))]
    [('ceiling target-0.01', 'instant')]
    """
    return [(STREAM_KEYS[s], REVIEWER_KEYS[r]) for s in streams for r in reviewers]


def run_bench(
    config: SoundnessConfig,
    jobs: int = 1,
    on_result: Callable[[RunOutcome], None] | None = None,
    chosen: list[tuple[SoundnessStream, ReviewerConfig]] | None = None,
) -> dict[str, Any]:
    """Every cell (``chosen``, default :func:`cells`) with ``config.seeds`` seeds; the cells with their runs.

    Seed-major order: after any number of results every cell has (about) the same number of seeds, so the
    progress lines of an interrupted run still make a balanced table.
    """
    table = [Cell(stream, reviewer) for stream, reviewer in (chosen if chosen is not None else cells())]
    work = [(cell.stream, cell.reviewer, seed, config) for seed in range(config.seeds) for cell in table]
    by_key = {(cell.stream.name, cell.reviewer.name): cell for cell in table}
    started = time.perf_counter()
    if jobs <= 1:
        results = map(_run_job, work)
        for result in results:
            by_key[(result.stream, result.reviewer)].runs.append(result)
            if on_result is not None:
                on_result(result)
    else:
        with ProcessPoolExecutor(jobs) as executor:
            for result in executor.map(_run_job, work, chunksize=4):
                by_key[(result.stream, result.reviewer)].runs.append(result)
                if on_result is not None:
                    on_result(result)
    return {
        "cells": table,
        "config": config,
        "machine": machine(),
        "seconds": time.perf_counter() - started,
        "jobs": jobs,
    }


def soundness_markdown(summary: dict[str, Any], command: str) -> str:
    """The Soundness section of BENCHMARKS.md."""
    config: SoundnessConfig = summary["config"]
    m = summary["machine"]
    alpha = 1.0 - config.confidence_level
    lines = [
        "## Soundness",
        "",
        f"Command: `{command}` — {m['date']}, {m['arch']}, {m['cpus']} CPUs, Python {m['python']}; "
        f"{summary['seconds'] / 60:.0f} min with {summary['jobs']} worker processes.",
        "",
        f"SEA (logistic model) with uniform label noise, {config.records:,} records a run, {config.seeds} seeds a row, "
        f"target precision {config.target_precision}, confidence {config.confidence_level}, review budget "
        f"{config.review_budget_share}. Below the target every threshold of every model is bad, so a run fails if it "
        "ever emits an auto-label; just above it, a run fails if at a checkpoint (every "
        f"{config.checkpoint:,} records) a class emitting auto-labels has a true precision below the target above its "
        "threshold (exact, from the clean labels of a held-out sample). The contract promises a failure rate of at most "
        f"{alpha:.2f}; the interval is Clopper–Pearson at 95 %.",
        "",
    ]
    if len(summary["cells"]) < len(cells()):
        lines += [
            f"**Chosen rows** ({len(summary['cells'])} of the {len(cells())} of the default run: what fitted the "
            "time on a shared 2-core machine at this size; `--stream` and `--reviewer` choose them).",
            "",
        ]
    if config.records < 30_000 or config.seeds < 100:
        lines += [
            f"**Reduced size** ({config.records:,} records, {config.seeds} seeds: what fitted a shared 2-core machine). "
            "The issue's full size is `labelstream bench soundness --out BENCHMARKS.md` (100 seeds, 30,000 records; "
            "hours with 2 workers). A short run tests fewer repeated looks, so it is weaker evidence of soundness "
            "than the full one: read the column of runs that ever auto-labeled.",
            "",
        ]
    lines += [
        "| stream | reviewer | runs | failed | failure rate [95 % CI] | promise | runs that auto-labeled "
        "| mean auto share |",
        "|---|---|---:|---:|---|---|---:|---:|",
    ]
    for cell in summary["cells"]:
        rate = cell.failure_rate()
        kept = "kept" if rate["rate"] <= alpha else "**broken**"
        lines.append(
            f"| {cell.stream.name} | {cell.reviewer.name} | {len(cell.runs)} | {cell.failures} | "
            f"{rate['rate']:.3f} [{rate['lower']:.3f}, {rate['upper']:.3f}] | {kept} | {cell.auto_labeled()} | "
            f"{cell.mean_auto_share():.1%} |"
        )
    return "\n".join(lines)


def soundness_json(summary: dict[str, Any], command: str) -> dict[str, Any]:
    """The benchmark's result as plain JSON-able data (``labelstream bench soundness --json``)."""
    config: SoundnessConfig = summary["config"]
    alpha = 1.0 - config.confidence_level
    rows = []
    for cell in summary["cells"]:
        rate = cell.failure_rate()
        rows.append(
            {
                "stream": cell.stream.name,
                "reviewer": cell.reviewer.name,
                "runs": len(cell.runs),
                "failed": cell.failures,
                "failure_rate": rate,
                "promise_kept": rate["rate"] <= alpha,
                "mean_auto_share": cell.mean_auto_share(),
                "runs_auto_labeled": cell.auto_labeled(),
                "first_failures": [r.first_failure for r in cell.runs if r.failed],
            }
        )
    return {
        "command": command,
        "machine": summary["machine"],
        "seconds": summary["seconds"],
        "jobs": summary["jobs"],
        "config": {k: v for k, v in vars(config).items()},
        "cells": rows,
    }
