"""``labelstream simulate``, ``datasets`` and ``bench quality --help`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labelstream.simulate.report import REPORT_KEYS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labelstream", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def phishing_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "phishing.csv"
    result = run("datasets", "export", "phishing", str(path), "--size", "400")
    assert result.returncode == 0, result.stderr
    return path


def test_simulate_writes_the_report(phishing_csv, tmp_path):
    report_path = tmp_path / "report.json"
    result = run("simulate", "--data", str(phishing_csv), "--label-column", "label", "--id-column", "id",
                 "--review-budget", "0.3", "--seed", "3", "--report", str(report_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert set(REPORT_KEYS) <= set(report)
    assert report["records"] == 400
    assert report["settings"]["policy"]["review_budget_share"] == 0.3 and report["settings"]["model"]["seed"] == 3
    assert "auto-labeled" in result.stdout


def test_missing_label_column_is_a_clear_error(phishing_csv):
    result = run("simulate", "--data", str(phishing_csv), "--label-column", "nope")
    assert result.returncode == 2
    assert "--label-column 'nope' is not a column" in result.stderr and "Traceback" not in result.stderr


def test_unknown_flag_is_a_usage_error(phishing_csv):
    result = run("simulate", "--data", str(phishing_csv), "--label-column", "label", "--no-such-flag")
    assert result.returncode == 2 and "No such option" in result.stderr


def test_bad_setting_names_the_setting(phishing_csv):
    result = run("simulate", "--data", str(phishing_csv), "--label-column", "label", "--strategy", "magic")
    assert result.returncode == 2 and "policy.strategy" in result.stderr and "Traceback" not in result.stderr


def test_missing_file_is_a_clear_error(tmp_path):
    result = run("simulate", "--data", str(tmp_path / "none.csv"), "--label-column", "label")
    assert result.returncode == 2 and "no such file" in result.stderr


@pytest.mark.parametrize("command", [["simulate"], ["datasets"], ["datasets", "export"], ["bench", "quality"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout
