"""The labeling-methods benchmark: configurations, one run, and its Markdown."""

from __future__ import annotations

import json

from labelstream.simulate.datasets import export_dataset
from labelstream.simulate.methods import (
    MethodStream,
    _summarize,
    method_configs,
    methods_json,
    methods_markdown,
    run_method,
)
from labelstream.simulate.quality import BenchSettings, machine


def test_a_run_per_configuration_and_the_section(tmp_path):
    path = tmp_path / "phishing.csv"
    export_dataset("phishing", path, size=500)
    stream = MethodStream("phishing", "logistic", "labelstream.simulate.benchmark_lfs:phishing", 500)
    bench = BenchSettings()
    runs = [run_method(stream, config, 1, bench, path) for config in method_configs() if config.applies_to(stream)]
    for run in runs:
        assert run.review_share <= bench.review_budget_share + 0.01  # the same budget for every configuration
        assert run.first_auto is None or run.auto_share > 0  # on arrival; relabels may add auto-labels later
    summary = {"streams": [_summarize(stream, runs, {"labeling functions"})], "seeds": (1,), "bench": bench,
               "quick": True, "machine": machine()}
    text = methods_markdown(summary, "labelstream bench quality --part methods")
    assert "### phishing (500 records, model logistic)" in text
    assert text.count("| labeling functions |") == 3
    (entry,) = json.loads(json.dumps(methods_json(summary, "cmd")))["streams"]
    assert entry["stream"] == "phishing" and entry["records"] == 500
    assert [row["config"] for row in entry["rows"]] == [run.config for run in runs]
    assert [row["auto_share"] for row in entry["rows"]] == [run.auto_share for run in runs]


def test_configs_name_the_stream_lfs():
    stream = MethodStream("sea_drift", "logistic", "pkg.lfs:sea")
    sections = {c.name: c.settings_sections(stream) for c in method_configs()}
    assert sections["no LFs"] == {}
    assert sections["LFs: label model"] == {"weak": {"functions": ["pkg.lfs:sea"], "combine": "label_model"}}
