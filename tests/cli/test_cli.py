import subprocess
import sys

import pytest


def all_commands() -> list[list[str]]:
    """Every command path of the CLI, walked from the typer app (a new command is covered without listing it)."""
    import typer

    from labelstream.cli.main import app

    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


COMMANDS = all_commands()


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labelstream", *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command):
    from typer.testing import CliRunner

    from labelstream.cli.main import app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("labelstream ")


def test_user_errors_have_no_traceback(monkeypatch):
    import os

    env = {**os.environ, "LABELSTREAM_MODEL__NAME": "svm"}
    result = run("topics", "create", env=env)
    assert result.returncode == 2
    assert "model.name" in result.stderr and "Traceback" not in result.stderr
    debug = run("--debug", "topics", "create", env=env)
    assert "Traceback" in debug.stderr


def test_unknown_flag_is_a_usage_error():
    result = run("produce", "--no-such-flag", "x.csv")
    assert result.returncode == 2 and "No such option" in result.stderr
