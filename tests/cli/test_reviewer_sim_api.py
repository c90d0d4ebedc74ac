"""``reviewer-sim --via-api`` and ``review`` (terminal) refuse bad arguments with one clear line, before connecting anywhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from labelstream.cli.reviewer_sim_api import parse_rates


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "LABELSTREAM_REVIEW_TOKEN"} | env
    return subprocess.run([sys.executable, "-m", "labelstream", *args], capture_output=True, text=True, env=environment,
                          check=False, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture
def truth(tmp_path):
    path = tmp_path / "truth.jsonl"
    path.write_text('{"id": "a", "x": 1, "label": "cat"}\n')
    return ["--data", str(path), "--label-column", "label", "--id-column", "id"]


@pytest.mark.parametrize(("args", "message"), [
    (["--reviewers", "3", "--error-rate", "0.1"], "error: --url, --reviewers, --error-rate: only with --via-api"),
    (["--via-api", "--reviewers", "3", "--error-rate", "0.1,0.2"], "error: --error-rate: give one error rate, or one per reviewer (3); got 2"),
    (["--via-api", "--error-rate", "0.1,x"], "error: --error-rate: expected numbers separated by commas"),
    (["--via-api", "--error-rate", "1.5"], "error: --error-rate: each error rate must be between 0 and 1"),
    (["--via-api", "--accuracy", "0.9"], "error: --accuracy is the oracle's; with --via-api give --error-rate"),
    (["--via-api", "--name-prefix", "bad name"], "error: --name-prefix: a reviewer name is 1-64 letters"),
])
def test_bad_arguments_are_one_error_line(truth, args, message):
    result = run("run", "reviewer-sim", *truth, *args, "--url", "http://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(message), line


def test_parse_rates():
    assert parse_rates("0.05, 0.2,0.35") == [0.05, 0.2, 0.35]
    assert parse_rates(None) == [0.0]


def test_the_terminal_reviewer_needs_a_token_and_a_service():
    missing = run("review", "--url", "http://127.0.0.1:9")
    assert missing.returncode == 2
    assert missing.stderr.strip() == ("error: no review token: give --token T or set LABELSTREAM_REVIEW_TOKEN "
                                      "(an admin creates one: labelstream review token add NAME)")
    nowhere = run("review", "--url", "http://127.0.0.1:9", LABELSTREAM_REVIEW_TOKEN="lsr_x")
    assert nowhere.returncode == 2
    assert nowhere.stderr.strip().startswith("error: cannot reach the review service at http://127.0.0.1:9")
    assert "labelstream run review" in nowhere.stderr
