"""The quality benchmark's results as Markdown (the "Quality" section of BENCHMARKS.md), plain rows and JSON."""

from __future__ import annotations

from typing import Any

from labelstream.simulate.quality import RunResult

COLUMNS = (
    "configuration", "auto precision", "auto share", "review share", "deferred share", "label accuracy",
    "auto share / oracle", "worst window after drift",
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def result_row(result: RunResult, oracle: RunResult | None, name: str | None = None) -> list[str]:
    """One table row: the figures of a run, its auto share relative to the oracle's."""
    ratio = None if oracle is None or not oracle.auto_share else result.auto_share / oracle.auto_share
    worst = "-" if not result.post_drift_windows else _pct(result.worst_post_drift_precision)
    return [
        name or result.config.name, _pct(result.auto_precision), _pct(result.auto_share), _pct(result.review_share),
        _pct(result.deferred_share), _pct(result.label_accuracy), "-" if ratio is None else f"{ratio:.2f}", worst,
    ]


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def stream_rows(entry: dict[str, Any]) -> list[list[str]]:
    rows = [result_row(r, entry["oracle"]) for r in entry["rows"]]
    best = entry["oracle"]
    name = "hindsight oracle: none reaches the target" if best is None else (
        f"hindsight oracle: threshold {best.config.policy['confidence_threshold']}")
    if best is not None:
        rows.append(result_row(best, best, name))
    else:
        rows.append([name] + ["-"] * (len(COLUMNS) - 1))
    return rows


def quality_markdown(summary: dict[str, Any], command: str) -> str:
    """The whole section: how it was run, one table per stream, and the targets of the default strategy."""
    bench, machine = summary["bench"], summary["machine"]
    out = [
        "## Quality",
        "",
        f"Command: `{command}` — {machine['date']}, {machine['arch']}, {machine['cpus']} CPUs, Python {machine['python']}.",
        "",
        f"Target precision {bench.target_precision}, review budget {bench.review_budget_share} of the stream, "
        "a perfect reviewer answering at once, a model version every 50 answers (deferred records re-scored, "
        f"for {bench.deferred_ttl} records), drift detection on. Auto share counts relabeled records. The hindsight "
        "oracle is the fixed threshold (with the same budget) that auto-labels the most at precision >= the target, "
        f"chosen after the run. Windows after a drift: every full {bench.window}-record window from "
        f"{bench.after_drift} records after it. Query strategies choose only among records below a proven "
        "threshold: while a class has none (too little evidence yet), its records are offered to review within "
        "the budget, so where the contract stays in that phase the strategies' rows coincide. Auto precision is "
        "over the whole stream, while the contract promises it per class, per threshold, at each moment: it can sit "
        "below the target without breaking the promise by chance (at most 1 - confidence), in the window after a "
        "drift before answers reveal it, or when a new model version is worse above a threshold its predecessors "
        "proved (agrawal_drift's Hoeffding adaptive tree: docs/contract.md, \"What a whole-stream precision figure "
        "can show\").",
    ]
    for entry in summary["streams"]:
        stream = entry["stream"]
        size = stream.size or "all"
        drift = f", abrupt concept drift at record {stream.drift_at}" if stream.drift_at is not None else ""
        out += ["", f"### {stream.dataset} ({size} records, model {stream.model}, seed {stream.seed}{drift})", ""]
        out.append(_table(COLUMNS, stream_rows(entry)))
    out += ["", f"### Targets for the default strategy ({summary['default_strategy']})", ""]
    rows = []
    for entry in summary["streams"]:
        for target in entry["targets"]:
            measured = target["measured"]
            shown = "-" if measured is None else (f"{measured:.2f}" if "oracle" in target["target"] else _pct(measured))
            verdict = {True: "met", False: "**missed**", None: "n/a (no fixed threshold reaches the target)"}
            rows.append([entry["stream"].dataset, target["target"], target["required"], shown, verdict[target["met"]]])
    out.append(_table(("stream", "target", "required", "measured", "result"), rows))
    return "\n".join(out) + "\n"


def run_json(result: RunResult) -> dict[str, Any]:
    """One run's figures as plain data (shares as fractions, ``None`` where there is nothing to measure)."""
    return {
        "configuration": result.config.name, "kind": result.config.kind, "policy": result.config.policy,
        "auto_precision": result.auto_precision, "auto_share": result.auto_share, "review_share": result.review_share,
        "deferred_share": result.deferred_share, "label_accuracy": result.label_accuracy,
        "worst_window_after_drift": result.worst_post_drift_precision if result.post_drift_windows else None,
        "seconds": result.seconds,
    }


def quality_json(summary: dict[str, Any], command: str) -> dict[str, Any]:
    """The strategies part of ``labelstream bench quality --json``: the tables' figures and the targets."""
    streams = []
    for entry in summary["streams"]:
        stream, best = entry["stream"], entry["oracle"]
        streams.append({
            "stream": stream.dataset, "model": stream.model, "records": stream.size, "seed": stream.seed,
            "drift_at": stream.drift_at, "rows": [run_json(r) for r in entry["rows"]],
            "oracle": None if best is None else run_json(best),
            "targets": entry["targets"],
        })
    missed = [{"stream": e["stream"].dataset, "target": t["target"]}
              for e in summary["streams"] for t in e["targets"] if t["met"] is False]
    return {"command": command, "machine": summary["machine"], "default_strategy": summary["default_strategy"],
            "streams": streams, "targets_missed": missed}
