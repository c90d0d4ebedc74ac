"""The Prometheus config and alert rules pass promtool, and the rule unit tests pass."""

import subprocess

from prom_harness import REPO

PROMETHEUS = REPO / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False, timeout=60)


def test_config_is_valid_and_finds_the_rules():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_rules_are_clean():
    result = promtool("check", "rules", "rules/labelstream.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 rules found" in result.stdout


def test_rule_unit_tests_pass():
    result = promtool("test", "rules", "rules/tests.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
