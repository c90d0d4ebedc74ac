"""The coverage table: the oracle it compares with, its variants and its Markdown (no simulation: see bench)."""

from __future__ import annotations

import json

import pytest

from labelstream.cli.quality_cmd import parse_variant
from labelstream.errors import LabelstreamError
from labelstream.simulate.coverage import CoverageRun, coverage_json, coverage_markdown, hindsight_oracle, summarize
from labelstream.simulate.quality import BenchStream, machine


def _run(share, precision, threshold=None, variant="default"):
    return CoverageRun("phishing", "instant", variant, share, precision, 0.2, None, threshold)


def test_oracle_is_the_largest_share_that_meets_the_target():
    runs = [_run(0.9, 0.94, 0.5), _run(0.7, 0.951, 0.7), _run(0.6, 0.99, 0.8), _run(0.95, 0.99)]  # last: not an oracle run
    assert hindsight_oracle(runs, 0.95).threshold == 0.7
    assert hindsight_oracle([_run(0.9, 0.9, 0.5), _run(0.0, None, 0.99)], 0.95) is None


def test_rows_divide_by_their_streams_oracle_and_name_the_command():
    stream = BenchStream("phishing", "logistic")
    runs = [_run(0.3, 0.97), _run(0.6, 0.96, 0.7), _run(0.45, 0.98, variant="overall")]
    summary = summarize(runs, [stream], [], 60.0)
    assert [round(row["ratio"], 2) for row in summary["rows"]] == [0.5, 0.75]
    assert summary["machine"].keys() == machine().keys()
    text = coverage_markdown(summary, "labelstream bench quality --part coverage")
    assert "`labelstream bench quality --part coverage`" in text
    assert "| phishing | instant | overall | 45.0% | 60.0% @0.7 | 0.75 | 98.0% | - | 20.0% |" in text
    rows = json.loads(json.dumps(coverage_json(summary, "cmd")))["rows"]
    assert [(r["configuration"], r["auto_share"], r["oracle_threshold"], r["auto_over_oracle"]) for r in rows] == [
        ("default", 0.3, 0.7, 0.5), ("overall", 0.45, 0.7, 0.75)]


def test_variants_parse_settings_and_reject_nonsense():
    variant = parse_variant("one start:scan_starts=[0.9],guarantee=overall")
    assert variant.name == "one start" and variant.policy == {"scan_starts": [0.9], "guarantee": "overall"}
    for bad in ("nokey:=1", ":guarantee=overall", "x:guarantee"):
        with pytest.raises(LabelstreamError, match="--variant"):
            parse_variant(bad)
