"""The coverage table: how much the contract auto-labels, against what a fixed threshold chosen in hindsight could.

For each stream (Phishing, Bananas, ImageSegments, SEA and Agrawal with an
abrupt drift, a long stationary SEA stream) and each simulated reviewer
(instant and right; 300 records late and wrong 3 % of the time), the contract
runs with the *default settings* (only the model and the seed are set), plus
any variants asked for (ideas measured against the default). Each row gives:

- **auto share / oracle**: the share auto-labeled over that of the
  **hindsight oracle** — the fixed threshold (from :data:`ORACLE_GRID`, run as
  the ``threshold`` policy with the same budget and an instant, perfect
  reviewer) that auto-labels the most with precision >= the target, chosen
  after the fact;
- **precision** of the auto-labels against the file's true labels (never the
  reviewer's answers), and the **worst full 500-record window** from 300
  records after a drift;
- the **review share** (the default budget bounds it), second answers to
  overlap items and answers to gold items included (a variant may set
  ``review.overlap_share`` or ``review.gold_share``: keys with a dot name
  another section's setting).

>>> [s.dataset for s in coverage_streams(quick=True)][:3]
['phishing', 'bananas', 'image_segments']
>>> REVIEWERS[1].name
'delay 300 + wrong 3 %'
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelstream.datafile import open_rows
from labelstream.settings import load_settings
from labelstream.simulate.datasets import DATASETS, export_dataset
from labelstream.simulate.quality import SYNTHETIC_SEED, BenchStream, machine, post_drift_windows
from labelstream.simulate.reviewer import ErrorMode, SimulatedReviewer
from labelstream.simulate.reviewer_pool import ReviewerPool
from labelstream.simulate.runner import Simulation

ORACLE_GRID: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
WINDOW, AFTER_DRIFT = 500, 300


@dataclass(frozen=True)
class Reviewer:
    """A simulated reviewer: its name in the table, delay (records) and error rate; or, with ``pool``, a pool of
    reviewers sharing the answers equally, one error rate each (:class:`ReviewerPool`; ``error_rate`` unused);
    ``errors``: :class:`SimulatedReviewer`'s error mode."""

    name: str
    delay: str = "0"
    error_rate: float = 0.0
    pool: tuple[float, ...] = ()
    errors: ErrorMode = "independent"

    def build(self, seed: int) -> SimulatedReviewer | ReviewerPool:
        if self.pool:
            return ReviewerPool(self.pool, delay=self.delay, errors=self.errors, seed=seed)
        return SimulatedReviewer(self.delay, self.error_rate, self.errors, seed=seed)


REVIEWERS: tuple[Reviewer, ...] = (Reviewer("instant"), Reviewer("delay 300 + wrong 3 %", "300", 0.03))


@dataclass(frozen=True)
class Variant:
    """A configuration of the table: a name and the policy settings it changes from the defaults."""

    name: str
    policy: dict[str, Any] = field(default_factory=dict)
    gold_wrong_share: float | None = None  # the simulated gold set's make-up (SimulatedGoldSet), not a setting


DEFAULT = Variant("default")


def coverage_streams(quick: bool = False) -> list[BenchStream]:
    """The six streams (real ones whole; synthetic ones seeded, shorter with ``quick``)."""
    sizes = {"sea_drift": 4000, "agrawal_drift": 4000, "sea": 10_000} if quick else {"sea": 20_000}
    seeds = {"sea_drift": SYNTHETIC_SEED, "agrawal_drift": SYNTHETIC_SEED, "sea": SYNTHETIC_SEED}
    names = ("phishing", "bananas", "image_segments", "sea_drift", "agrawal_drift", "sea")
    return [BenchStream(name, DATASETS[name].model, sizes.get(name), seeds.get(name, 1)) for name in names]


@dataclass
class CoverageRun:
    """The figures of one run."""

    stream: str
    reviewer: str
    variant: str
    auto_share: float
    auto_precision: float | None
    review_share: float
    worst_window: float | None
    threshold: float | None = None  # oracle runs: their fixed threshold
    seconds: float = 0.0


@dataclass(frozen=True)
class Job:
    stream: BenchStream
    path: Path
    reviewer: Reviewer
    variant: Variant
    threshold: float | None = None  # an oracle run

    def run(self) -> CoverageRun:
        policy: dict[str, Any] = {"seed": self.stream.seed}
        sections: dict[str, dict[str, Any]] = {}
        for key, value in self.variant.policy.items():  # "review.overlap_share": another section's setting
            section, _, name = key.rpartition(".")
            (sections.setdefault(section, {}) if section else policy)[name] = value
        if self.threshold is not None:
            policy.update(name="threshold", confidence_threshold=self.threshold)
        settings = load_settings(model={"name": self.stream.model, "seed": self.stream.seed}, policy=policy, **sections)
        started = time.perf_counter()
        simulation = Simulation(
            settings,
            WINDOW,
            deferred_ttl=2000,
            reviewer=self.reviewer.build(self.stream.seed),
            gold_wrong_share=self.variant.gold_wrong_share,
        )
        result = simulation.run(open_rows(self.path, label_column="label", id_column="id"))
        report = result.report
        drift_at = self.stream.drift_at
        windows = [] if drift_at is None else post_drift_windows(result.outcomes, drift_at, AFTER_DRIFT, WINDOW)
        worst = min((w["auto_precision"] for w in windows if w["auto_precision"] is not None), default=None)
        extra_answers = report.get("overlap_answers", 0) + report.get("gold_answers", 0)
        return CoverageRun(
            self.stream.dataset,
            self.reviewer.name,
            self.variant.name,
            report["auto_share"],
            report["auto_precision"],
            report["review_share"] + extra_answers / max(report["records"], 1),
            worst,
            self.threshold,
            time.perf_counter() - started,
        )


def fits(variant: Variant, reviewer: Reviewer) -> bool:
    """Whether ``variant`` is a valid setting for ``reviewer``: one that tells the contract reviewers err
    (``reviewer_accuracy`` < 1) runs only with reviewers who err at least that often — telling it more errors
    than reviewers make is the misconfiguration docs/contract.md warns against, not a variant to measure.

    >>> fits(Variant("told", {"reviewer_accuracy": 0.97}), REVIEWERS[0]), fits(Variant("told", {"reviewer_accuracy": 0.97}), REVIEWERS[1])
    (False, True)
    """
    accuracy = float(variant.policy.get("reviewer_accuracy", 1.0))
    return 1.0 - reviewer.error_rate <= accuracy + 1e-12


def _run(job: Job) -> CoverageRun:
    return job.run()


def run_coverage(
    variants: list[Variant] | None = None,
    quick: bool = False,
    jobs: int = 1,
    on_run: Callable[[CoverageRun], None] | None = None,
) -> dict[str, Any]:
    """Every stream x reviewer x variant, and each stream's oracle grid; the rows and the oracles."""
    variants = variants or [DEFAULT]
    bench_streams = coverage_streams(quick)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labelstream-coverage-") as tmp:
        work: list[Job] = []
        for stream in bench_streams:
            path = Path(tmp) / f"{stream.dataset}.csv"
            export_dataset(stream.dataset, path, stream.size, stream.seed)
            work += [
                Job(stream, path, reviewer, variant)
                for reviewer in REVIEWERS
                for variant in variants
                if fits(variant, reviewer)
            ]
            work += [Job(stream, path, REVIEWERS[0], DEFAULT, t) for t in ORACLE_GRID]
        runs = list(_map(work, jobs, on_run))
    return summarize(runs, bench_streams, variants, time.perf_counter() - started)


def _map(work: list[Job], jobs: int, on_run: Callable[[CoverageRun], None] | None) -> Iterator[CoverageRun]:
    executor = ProcessPoolExecutor(jobs) if jobs > 1 else None
    outputs = executor.map(_run, work) if executor else map(_run, work)
    for run in outputs:
        if on_run is not None:
            on_run(run)
        yield run
    if executor:
        executor.shutdown()


def hindsight_oracle(runs: list[CoverageRun], target: float) -> CoverageRun | None:
    """The oracle run with the largest auto share among those whose auto precision meets ``target``."""
    passing = [r for r in runs if r.threshold is not None and (r.auto_precision or 0.0) >= target]
    return max(passing, key=lambda r: (r.auto_share, -(r.threshold or 0.0)), default=None)


def summarize(
    runs: list[CoverageRun], bench_streams: list[BenchStream], variants: list[Variant], seconds: float
) -> dict[str, Any]:
    defaults = load_settings().policy
    rows = []
    for stream in bench_streams:
        mine = [r for r in runs if r.stream == stream.dataset]
        best = hindsight_oracle(mine, defaults.target_precision)
        for run in (r for r in mine if r.threshold is None):
            ratio = None if best is None or not best.auto_share else run.auto_share / best.auto_share
            rows.append({"stream": stream, "run": run, "oracle": best, "ratio": ratio})
    return {
        "rows": rows,
        "variants": variants,
        "machine": machine(),
        "seconds": seconds,
        "target_precision": defaults.target_precision,
        "confidence_level": defaults.confidence_level,
        "review_budget_share": defaults.review_budget_share,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def table_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Plain rows: stream, reviewer, configuration, auto share, oracle, ratio, precision, worst window, review share."""
    out = []
    for row in summary["rows"]:
        run, best, ratio = row["run"], row["oracle"], row["ratio"]
        oracle = "none" if best is None else f"{best.auto_share:.1%} @{best.threshold}"
        out.append(
            [
                run.stream,
                run.reviewer,
                run.variant,
                _pct(run.auto_share),
                oracle,
                "-" if ratio is None else f"{ratio:.2f}",
                _pct(run.auto_precision),
                _pct(run.worst_window),
                _pct(run.review_share),
            ]
        )
    return out


COLUMNS = (
    "stream",
    "reviewer",
    "configuration",
    "auto share",
    "oracle",
    "auto / oracle",
    "precision (truth)",
    "worst window after drift",
    "review share",
)


def coverage_markdown(summary: dict[str, Any], command: str) -> str:
    """The "Coverage" section of BENCHMARKS.md."""
    m = summary["machine"]
    budget = summary["review_budget_share"]
    lines = [
        "## Coverage",
        "",
        f"Command: `{command}` — {m['date']}, {m['arch']}, {m['cpus']} CPUs, Python {m['python']}; "
        f"{summary['seconds'] / 60:.0f} min.",
        "",
        f"The contract with its **default settings** (target {summary['target_precision']}, confidence "
        f"{summary['confidence_level']}, review budget {budget} of the stream; only the model and the seed set), "
        "and each variant named, with an instant perfect reviewer and with one 300 records late and wrong 3 % of the "
        "time. *Oracle*: the fixed threshold (grid "
        f"{', '.join(str(t) for t in ORACLE_GRID)}; the `threshold` policy, same budget, instant perfect reviewer) "
        "that auto-labels the most at precision >= the target, chosen after the run. Precision is against the true "
        f"labels; the worst window is the worst full {WINDOW}-record window from {AFTER_DRIFT} records after a drift; "
        "the review share counts second answers to overlap items (`review.overlap_share`) too.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    return "\n".join(lines)


def coverage_json(summary: dict[str, Any], command: str) -> dict[str, Any]:
    """The coverage part of ``labelstream bench quality --json``: the table's figures as fractions."""
    rows = []
    for row in summary["rows"]:
        run, best = row["run"], row["oracle"]
        rows.append(
            {
                "stream": run.stream,
                "reviewer": run.reviewer,
                "configuration": run.variant,
                "auto_share": run.auto_share,
                "auto_precision": run.auto_precision,
                "review_share": run.review_share,
                "worst_window": run.worst_window,
                "oracle_threshold": None if best is None else best.threshold,
                "oracle_auto_share": None if best is None else best.auto_share,
                "auto_over_oracle": row["ratio"],
            }
        )
    return {"command": command, "machine": summary["machine"], "seconds": summary["seconds"], "rows": rows}
