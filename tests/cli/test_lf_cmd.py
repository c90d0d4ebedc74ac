"""``labelstream lf stats`` on a labeled file, and ``simulate --lf``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from labelstream.cli.main import app
from labelstream.errors import ConfigError

runner = CliRunner()
LFS = "labelstream.simulate.benchmark_lfs:phishing"


@pytest.fixture(scope="module")
def phishing_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "phishing.csv"
    result = runner.invoke(app, ["datasets", "export", "phishing", str(path), "--size", "600"])
    assert result.exit_code == 0, result.output
    return path


def test_stats_on_a_file_match_a_count_of_the_rows(phishing_csv):
    result = runner.invoke(app, ["lf", "stats", "--data", str(phishing_csv), "--label-column", "label", "--id-column", "id",
                                 "--lf", LFS, "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert len(stats) == 7
    with phishing_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    blank = [row for row in rows if float(row["empty_server_form_handler"]) == 0.5]
    row = stats["form_handler_blank"]
    assert row["coverage"] == pytest.approx(len(blank) / len(rows))
    assert row["answered_votes"] == len(blank)
    assert row["empirical_accuracy"] == pytest.approx(sum(r["label"] == "True" for r in blank) / len(blank))
    assert row["polarity"] == ["True"] and row["errors"] == 0
    # fitted on every row, the label model's estimate is the empirical accuracy shrunk towards the prior
    assert abs(row["learned_accuracy"] - row["empirical_accuracy"]) < 0.05


def test_stats_table_fits_80_columns(phishing_csv):
    result = runner.invoke(app, ["lf", "stats", "--data", str(phishing_csv), "--label-column", "label", "--lf", LFS],
                           terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "anchor_same_domain" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_no_lf_is_a_one_line_error():
    result = subprocess.run([sys.executable, "-m", "labelstream", "lf", "stats"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no labeling functions: pass --lf pkg.module:name or set weak.functions"


def test_a_bad_lf_path_names_it(phishing_csv):
    result = runner.invoke(app, ["lf", "stats", "--data", str(phishing_csv), "--label-column", "label", "--lf", "nope_xyz:f"])
    assert isinstance(result.exception, ConfigError) and "'nope_xyz:f'" in str(result.exception)


def test_simulate_with_lfs_reports_them(phishing_csv, tmp_path):
    report_path = tmp_path / "report.json"
    result = runner.invoke(app, ["simulate", "--data", str(phishing_csv), "--label-column", "label", "--id-column", "id",
                                 "--lf", LFS, "--report", str(report_path)], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "labeling functions (label_model)" in result.output and "form_handler_blank" in result.output
    section = json.loads(report_path.read_text())["labeling_functions"]
    assert section["combine"] == "label_model" and len(section["functions"]) == 7


@pytest.mark.parametrize("command", [["lf"], ["lf", "stats"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
