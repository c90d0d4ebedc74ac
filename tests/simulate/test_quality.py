"""The quality benchmark's bookkeeping: oracle choice, targets, Markdown (no simulation needed)."""

from __future__ import annotations

import json

from labelstream.simulate.quality import (
    BenchSettings,
    BenchStream,
    RunConfig,
    RunResult,
    configs,
    oracle,
    post_drift_windows,
    summarize,
    targets,
)
from labelstream.simulate.quality_markdown import quality_json, quality_markdown
from labelstream.simulate.report import RecordOutcome


def result(name: str, precision: float | None, auto: float, review: float = 0.2, kind: str = "oracle",
           threshold: float = 0.9, strategy: str | None = None, windows=()) -> RunResult:
    policy = {"name": "threshold", "confidence_threshold": threshold} if kind != "strategy" else {
        "name": "contract", "strategy": strategy}
    return RunResult("s", RunConfig(name, policy, kind), precision, auto, review, 1 - auto - review, 0.99,
                     list(windows))


def test_oracle_is_the_largest_auto_share_that_meets_the_target():
    rows = [result("t0.6", 0.93, 0.9, threshold=0.6), result("t0.8", 0.951, 0.7, threshold=0.8),
            result("t0.9", 0.99, 0.5, threshold=0.9)]
    assert oracle(rows, 0.95).config.name == "t0.8"
    assert oracle(rows[:1], 0.95) is None


def test_targets_report_by_how_much():
    best = result("t0.8", 0.96, 0.7, threshold=0.8)
    run = result("split", 0.97, 0.6, review=0.305, kind="strategy", strategy="split",
                 windows=[{"auto_precision": 0.93}, {"auto_precision": None}])
    checks = {c["target"]: c for c in targets(run, best, BenchSettings())}
    assert checks["auto share / oracle"]["measured"] == 0.6 / 0.7 and not checks["auto share / oracle"]["met"]
    assert checks["review share"]["met"]
    assert not checks["worst 500-record window after drift+300"]["met"]
    no_oracle = {c["target"]: c for c in targets(run, None, BenchSettings())}
    assert no_oracle["auto share / oracle"]["met"] is None


def test_post_drift_windows_start_after_the_settling_period():
    outcomes = [RecordOutcome(i, str(i), "a", "label", "confident", "a", 0.9, label="a", method="auto") for i in range(2000)]
    found = post_drift_windows(outcomes, drift_at=500, after=300, size=500)
    assert [(w["start"], w["end"]) for w in found] == [(800, 1300), (1300, 1800)]


def test_every_strategy_and_both_baselines_are_benchmarked():
    names = [c.name for c in configs("split")]
    assert "contract / split (default)" in names
    assert {"baseline: threshold 0.9", "baseline: river EntropySampler"} <= set(names)
    assert sum(c.kind == "strategy" for c in configs("split")) == 9


def test_markdown_has_the_command_the_machine_and_every_stream():
    stream = BenchStream("sea_drift", "logistic", 4000, 42)
    rows = [result("contract / split (default)", 0.99, 0.7, kind="strategy", strategy="split"),
            result("threshold 0.6", 0.98, 0.8, threshold=0.6)]
    for row in rows:
        row.stream = "sea_drift"
    summary = summarize(rows, [stream], "split", BenchSettings(), quick=True)
    text = quality_markdown(summary, "labelstream bench quality --quick")
    assert text.startswith("## Quality") and "`labelstream bench quality --quick`" in text
    assert "CPUs, Python" in text and "### sea_drift" in text and "hindsight oracle: threshold 0.6" in text
    assert "**missed**" in text  # 0.7 / 0.8 < 0.9


def test_json_has_the_tables_figures_and_the_missed_targets():
    stream = BenchStream("sea_drift", "logistic", 4000, 42)
    rows = [result("contract / split (default)", 0.99, 0.7, kind="strategy", strategy="split",
                   windows=[{"auto_precision": 0.93}, {"auto_precision": 0.97}]),
            result("threshold 0.6", 0.98, 0.8, threshold=0.6)]
    for row in rows:
        row.stream = "sea_drift"
    data = json.loads(json.dumps(quality_json(summarize(rows, [stream], "split", BenchSettings(), quick=True), "cmd")))
    (entry,) = data["streams"]
    assert entry["stream"] == "sea_drift" and entry["drift_at"] == stream.drift_at == 2000  # half of 4000
    assert [(r["configuration"], r["auto_share"], r["worst_window_after_drift"]) for r in entry["rows"]] == [
        ("contract / split (default)", 0.7, 0.93)]
    assert entry["oracle"]["configuration"] == "threshold 0.6" and entry["oracle"]["auto_share"] == 0.8
    assert {m["target"] for m in data["targets_missed"]} == {"auto share / oracle", "worst 500-record window after drift+300"}
