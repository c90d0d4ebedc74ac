"""``labelstream simulate``, ``datasets`` and ``bench quality --help`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from labelstream.cli.main import app
from labelstream.errors import ConfigError, InputFileError, LabelstreamError
from labelstream.simulate.report import REPORT_KEYS

runner = CliRunner()


@pytest.fixture(scope="module")
def phishing_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "phishing.csv"
    result = runner.invoke(app, ["datasets", "export", "phishing", str(path), "--size", "400"])
    assert result.exit_code == 0, result.output
    return path


def test_simulate_writes_the_report(phishing_csv, tmp_path):
    report_path = tmp_path / "report.json"
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label", "--id-column", "id",
                                 "--seed", "3", "--report", str(report_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert set(REPORT_KEYS) <= set(report)
    assert report["records"] == 400
    # A newcomer's first run, with the defaults: humans review within a finite budget, not most of the stream.
    assert report["settings"]["policy"]["review_budget_share"] == 0.3 and report["settings"]["model"]["seed"] == 3
    assert report["review_share"] <= 0.3 + 1 / 400
    assert "auto-labeled" in result.output


def test_missing_label_column_is_a_clear_error_without_traceback(phishing_csv):
    result = subprocess.run(
        [sys.executable, "-m", "labelstream", "simulate", "--data", str(phishing_csv), "--label-column", "nope"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "--label-column 'nope' is not a column" in result.stderr and "Traceback" not in result.stderr


def test_unknown_flag_is_a_usage_error(phishing_csv):
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label", "--no-such-flag"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_bad_setting_names_the_setting(phishing_csv):
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label", "--strategy", "magic"])
    assert isinstance(result.exception, ConfigError) and "policy.strategy" in str(result.exception)


def test_invalid_rows_are_listed_and_counted(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("id,x,label\n" + "".join(f"{i},{i / 10},{'ab'[i % 2]}\n" for i in range(20)) + "20,1\n" * 12)
    result = runner.invoke(app, ["simulate", "--data", str(data), "--label-column", "label", "--id-column", "id", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["invalid_rows"] == 12
    assert "line 22: expected 3 columns, found 2" in result.stderr
    assert "bad.csv: 12 invalid row(s) skipped, not in the figures (2 not listed)" in result.stderr


def test_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["simulate", "--data", str(tmp_path / "none.csv"), "--label-column", "label"])
    assert isinstance(result.exception, InputFileError) and "no such file" in str(result.exception)


@pytest.mark.parametrize("command", [["simulate"], ["datasets"], ["datasets", "export"], ["bench", "quality"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def simulate_report(data, tmp_path, *flags: str):
    """``labelstream simulate`` on ``data`` with ``flags`` (seed 3): its result and JSON report."""
    report_path = tmp_path / "report.json"
    result = runner.invoke(app, ["simulate", "--data", str(data), "--label-column", "label", "--id-column", "id",
                                 "--seed", "3", "--report", str(report_path), *flags])
    assert result.exit_code == 0, result.output
    return result, json.loads(report_path.read_text())


def test_simulate_with_late_and_wrong_answers(phishing_csv, tmp_path):
    _, report = simulate_report(phishing_csv, tmp_path, "--reviewer-delay", "exp:50", "--reviewer-error-rate", "0.2")
    assert report["reviewer"] == {"delay": "exp:50", "error_rate": 0.2, "errors": "independent"}
    assert report["label_accuracy"] < 0.95  # wrong answers are human labels, measured against the label column


def test_a_bad_reviewer_delay_is_a_clear_error(phishing_csv):
    result = subprocess.run(
        [sys.executable, "-m", "labelstream", "simulate", "--data", str(phishing_csv), "--label-column", "label",
         "--reviewer-delay", "soon"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "invalid reviewer delay 'soon'" in result.stderr


def test_deferred_ttl_stops_re_scoring_older_deferred_records(tmp_path):
    sea = tmp_path / "sea.csv"
    assert runner.invoke(app, ["datasets", "export", "sea", str(sea), "--size", "2000"]).exit_code == 0
    reports = {}
    for ttl in (None, 1):
        report_path = tmp_path / f"report-{ttl}.json"
        flags = [] if ttl is None else ["--deferred-ttl", str(ttl)]
        result = runner.invoke(app, ["simulate", "--data", str(sea), "--label-column", "label", "--id-column", "id",
                                     "--seed", "3", "--report", str(report_path), *flags])
        assert result.exit_code == 0, result.output
        reports[ttl] = json.loads(report_path.read_text())
    assert reports[None]["deferred_ttl"] is None and reports[1]["deferred_ttl"] == 1
    # Kept until the end, deferred records are auto-labeled when a version proves their class; after 1 record, hardly any.
    assert reports[None]["relabeled_share"] > 0.1
    assert reports[1]["relabeled_share"] < reports[None]["relabeled_share"] / 10


def test_deferred_ttl_is_in_process_only(phishing_csv):
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label", "--via-kafka",
                                 "--deferred-ttl", "2000"])
    assert isinstance(result.exception, LabelstreamError) and "redis.record_ttl_seconds" in str(result.exception)


def test_gold_share_answers_gold_items_and_turns_the_gold_bound_on(phishing_csv, tmp_path):
    result, report = simulate_report(phishing_csv, tmp_path, "--reviewer-error-rate", "0.2", "--gold-share", "0.5")
    assert report["settings"]["review"]["gold_share"] == 0.5
    assert report["settings"]["policy"]["reviewer_accuracy_from_gold"] is True
    assert 0 < report["gold_right"] < report["gold_answers"] and "gold answers (right)" in result.output


def test_gold_share_is_in_process_only(phishing_csv):
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label", "--via-kafka",
                                 "--gold-share", "0.1"])
    assert isinstance(result.exception, LabelstreamError) and "review.gold_share" in str(result.exception)


def test_several_error_rates_make_a_pool_whose_bad_reviewer_is_held(tmp_path):
    sea = tmp_path / "sea.csv"
    assert runner.invoke(app, ["datasets", "export", "sea", str(sea), "--size", "3000"]).exit_code == 0
    result, report = simulate_report(sea, tmp_path, "--reviewer-error-rate", "0.01,0.02,0.4", "--gold-share", "0.3",
                                     "--gold-hold-below", "0.9", "--reviewer-delay", "20")
    assert report["reviewer"]["error_rate"] == [0.01, 0.02, 0.4]
    assert report["settings"]["review"]["gold_hold_below"] == 0.9
    members = {m["name"]: m for m in report["reviewers"]}
    assert set(members) == {"r1", "r2", "r3"} and members["r3"]["holds"] and not members["r1"]["holds"]
    assert report["holds"][0]["reviewer"] == "r3" and "reviewer r3 (wrong 40%)" in result.output


def test_holds_need_several_reviewers(phishing_csv):
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label",
                                 "--reviewer-error-rate", "0.1", "--gold-share", "0.1", "--gold-hold-below", "0.9"])
    assert isinstance(result.exception, LabelstreamError) and "one rate a reviewer" in str(result.exception)
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label",
                                 "--reviewer-error-rate", "0.1,0.3", "--gold-hold-below", "0.9"])
    assert isinstance(result.exception, LabelstreamError) and "give --gold-share too" in str(result.exception)
