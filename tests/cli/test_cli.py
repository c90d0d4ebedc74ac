"""The command line as a user and a script see it: help, --json, one error style, output piped."""

import json
import os
import socket
import subprocess
import sys

import pytest

from stack_support import closed_port

ERROR_HINTS = ("--help", "make up", "LABELSTREAM_", "choose one of", "does not exist", "no such file", "(labelstream run review)",
               'write {"')  # last: a file's shape


def all_commands() -> list[list[str]]:
    """Every command path of the CLI, walked from the typer app (a new command is covered without listing it)."""
    return [path for path, _ in _walk()]


def _walk():
    import typer

    from labelstream.cli.main import app

    found = []

    def walk(command, path):
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_commands()


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labelstream", *args], capture_output=True, text=True, env=env, check=False, timeout=timeout
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_plain_help_that_is_not_cut(command):
    from typer.testing import CliRunner

    from labelstream.cli.main import app

    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200
    assert not set("╭╮╰╯│…") & set(result.output), "help must be plain text, never boxed or cut"
    commands = result.output.partition("Commands:")[2]
    assert "..." not in commands, "a command's help was cut"
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80, "wider than 80 columns"
    split = [line.strip() for line in lines if line.rstrip().endswith("-") and line.rstrip()[-2:-1].isalnum()]
    assert not split, f"a word or option name split at its hyphen across lines (reword it): {split}"
    options = [line for line in lines if line.lstrip().startswith("--")]
    assert not [line for line in options if "<list[" in line], "a repeatable option needs a metavar naming one value"


def test_arguments_are_named_in_capitals_as_the_help_texts_say_them():
    """Usage, help and errors say FILE, VERSION, PATH as the docstrings and README do (typer would say {file})."""
    for path, command in _walk():
        for param in command.params:
            if param.param_type_name == "argument":
                assert param.metavar and param.metavar.isupper(), f"labelstream {' '.join(path)}: {param.name}"


def test_a_default_quoted_in_help_is_the_settings_default():
    """'(default: policy.target_precision, 0.95)' in an option's help must not drift from the settings."""
    import re

    from labelstream.settings import load_settings

    settings = load_settings()
    quoted = [(path, match) for path, command in _walk() for param in command.params
              for match in re.finditer(r"default: ([a-z_]+)\.([a-z_]+), ([\w.]+)\)", getattr(param, "help", None) or "")]
    assert len(quoted) >= 5
    for path, match in quoted:
        section, name, shown = match.groups()
        assert str(getattr(getattr(settings, section), name)) == shown, f"labelstream {' '.join(path)}: {match.group(0)}"


def test_every_command_that_lists_or_describes_has_json():
    listing = [path for path, command in _walk() if path and path[-1] in {"list", "describe", "show", "status", "stats"}]
    assert ["topics", "describe"] in listing and ["models", "list"] in listing
    for path, command in _walk():
        if path in listing:
            assert "--json" in {opt for param in command.params for opt in param.opts}, f"labelstream {' '.join(path)} needs --json"


def test_benchmarks_write_markdown_only_when_asked():
    benches = [(path, command) for path, command in _walk() if path[:1] == ["bench"] and len(path) == 2]
    assert {p[1] for p, _ in benches} >= {"throughput", "hot-path", "quality"}
    for path, command in benches:
        options = {opt: param for param in command.params for opt in param.opts}
        assert "--out" in options and options["--out"].default is None, path
        assert not [p for p in command.params if "BENCHMARKS" in str(p.default)], path
        assert "--json" in options, f"labelstream {' '.join(path)} needs --json: scripts read benchmark figures"


def test_simulated_reviewers_options_have_one_name_and_say_their_unit():
    """demo and simulate both take --reviewer-error-rate; a delay says whether it counts seconds or records."""
    options = {tuple(path): {opt for param in command.params for opt in param.opts} for path, command in _walk()}
    assert {"--reviewer-error-rate", "--reviewer-delay-seconds"} <= options[("demo",)]
    assert {"--reviewer-error-rate", "--reviewer-delay-records"} <= options[("simulate",)]


def test_bench_quality_json_is_the_whole_stdout():
    """Piped to a script: one JSON object, the part's rows; the Markdown and the progress lines stay off stdout."""
    result = run("bench", "quality", "--part", "methods", "--capability", "committee", "--quick", "--jobs", "1", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["methods"]
    (stream,) = data["methods"]["streams"]
    assert [row["config"] for row in stream["rows"]] == ["no committee", "committee: tree + naive Bayes must agree"]
    assert all(0 < row["auto_share"] < 1 and row["runs"] == 3 for row in stream["rows"])
    assert "committee" in result.stderr  # the progress lines


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("labelstream ")


def test_a_group_without_a_command_prints_its_help():
    result = run("topics")
    assert result.returncode == 2 and "Commands:" in result.stdout and "describe" in result.stdout


def test_user_errors_have_no_traceback():
    env = {**os.environ, "LABELSTREAM_MODEL__NAME": "svm"}
    result = run("topics", "create", env=env)
    assert result.returncode == 2
    assert "model.name" in result.stderr and "Traceback" not in result.stderr
    debug = run("--debug", "topics", "create", env=env)
    assert "Traceback" in debug.stderr


USER_ERRORS = {
    "bad log level": (["run", "learner", "--log-level", "loud"], {}, "'loud' is not one of 'debug', 'info', 'warning', 'error'"),
    "missing file": (["produce", "no-such-file.csv"], {}, "file 'no-such-file.csv' does not exist"),
    "missing data file": (["simulate", "--data", "no-such-file.csv", "--label-column", "y"], {}, "no such file; check the path"),
    "bad TOML config": (["--config", "README.md", "topics", "create"], {}, "config file README.md is not valid TOML"),
    "env var not JSON": (["topics", "create"], {"LABELSTREAM_WEAK__FUNCTIONS": "mypkg.lfs"},
                         "LABELSTREAM_WEAK__FUNCTIONS is not valid JSON"),
    "missing config file": (["--config", "no-such.toml", "topics", "create"], {}, "config file no-such.toml does not exist"),
    "unknown option": (["produce", "--no-such-flag", "x.csv"], {}, "No such option: --no-such-flag"),
    "mistyped command": (["topic"], {}, "No such command 'topic'; did you mean 'topics'? (see '"),  # was "'topics'?; see"
    "bad setting": (["topics", "create"], {"LABELSTREAM_MODEL__NAME": "svm"}, "invalid setting model.name (LABELSTREAM_MODEL__NAME)"),
    "unknown dataset": (["demo", "--dataset", "nope"], {}, "unknown dataset 'nope'; choose one of"),
    "Kafka down": (["topics", "describe"], {"LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS": f"localhost:{closed_port()}"}, "kafka.bootstrap_servers"),
    "Redis down": (["models", "list"], {"LABELSTREAM_REDIS__URL": f"redis://localhost:{closed_port()}/0"},
                   "or point redis.url (LABELSTREAM_REDIS__URL) at your Redis"),
    "review URL without http://": (["review", "--token", "t", "--url", f"localhost:{closed_port()}/"], {},
                                   "cannot reach the review service at http://localhost:"),  # was: UnsupportedProtocol
    "learner without a broker": (["run", "learner"], {"LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS": f"localhost:{closed_port()}"},
                                 "is unreachable (nothing accepts a connection there)"),  # was faust's traceback, exit 1
    "unknown capability": (["bench", "quality", "--part", "methods", "--capability", "nope"], {},
                           "Invalid value for --capability: unknown capability 'nope'; choose one of"),  # was "Invalid value:"
    "a part of the throughput section": (["bench", "throughput", "--part", "scaling", "--out", "BENCHMARKS.md"], {},
                                         "--out writes the whole throughput section: run without --part scaling"),
    "bad --schema file": (["produce", "README.md", "--schema", "pyproject.toml"], {}, "pyproject.toml: not JSON"),
}


@pytest.mark.parametrize("case", USER_ERRORS, ids=str)
def test_a_user_error_is_one_line_naming_the_fix(case):
    args, env, expected = USER_ERRORS[case]
    result = run(*args, env={**os.environ, **env})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert any(hint in lines[0] for hint in ERROR_HINTS), lines[0]
    assert result.stdout == ""


def test_a_labeler_without_a_broker_says_what_it_waits_for(caplog):
    """The labeler (review service, oracle) waits out a missing broker, as any outage; its first line names the fix."""
    from labelstream.cli.run_cmd import _no_broker_is_a_warning
    from labelstream.settings import load_settings

    port = closed_port()
    _no_broker_is_a_warning(load_settings(kafka={"bootstrap_servers": f"localhost:{port}"}), "labeler")
    assert [(record.name, record.getMessage()) for record in caplog.records] == [("labelstream.labeler",
        f"Kafka at localhost:{port} is unreachable (nothing accepts a connection there); start it with 'make up', "
        "or point kafka.bootstrap_servers (LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS) at your brokers; waiting for it")
    ]


def test_a_port_taken_after_the_check_is_the_same_error_from_the_services_own_bind():
    """The command checks the port before the slow start (below); the service's bind, the last word, says the same."""
    from labelstream.cli.run_cmd import _port_setting
    from labelstream.errors import PortInUse
    from labelstream.metrics import start_metrics_server

    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse) as raised, _port_setting("learner.metrics_port"):
            start_metrics_server(port)
    assert str(raised.value) == (f"port {port} is already in use (another labelstream service?); stop what holds it, "
                                 "or set learner.metrics_port (LABELSTREAM_LEARNER__METRICS_PORT; 0 picks a free port)")


@pytest.mark.integration
@pytest.mark.parametrize("service", ["labeler", "learner"])
def test_a_busy_metrics_port_is_one_error_line(service, cli_env):
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {**cli_env, f"LABELSTREAM_{service.upper()}__METRICS_PORT": str(port)}
        result = run("run", service, "--log-level", "warning", env=env, timeout=90)
    lines = [line for line in result.stderr.strip().splitlines() if "error" in line.lower()]
    assert result.returncode == 2, result.stderr
    assert lines == [
        f"error: port {port} is already in use (another labelstream service?); stop what holds it, "
        f"or set {service}.metrics_port (LABELSTREAM_{service.upper()}__METRICS_PORT; 0 picks a free port)"
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_topics_describe_piped_is_whole_rows_and_json_for_scripts(cli_env, stack_settings):
    result = run("topics", "describe", env=cli_env)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    assert rows[stack_settings.topics.model_versions] == ["1", "1", "compact", "-", "0"]
    assert rows[stack_settings.topics.records] == ["3", "1", "delete", "7", "days", "0"]
    assert not set("┏━│…") & set(result.stdout)

    described = json.loads(run("topics", "describe", "--json", env=cli_env).stdout)
    by_role = {topic["role"]: topic for topic in described}
    assert by_role["model_versions"]["topic"] == stack_settings.topics.model_versions
    assert by_role["records"]["retention_ms"] == 7 * 24 * 3600 * 1000 and by_role["records"]["messages"] == 0


@pytest.mark.integration
def test_models_list_json_without_versions(cli_env, stack_settings):
    result = run("models", "list", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"model": stack_settings.model.model_name, "live_version": None, "versions": []}


def test_datasets_list_on_an_80_column_terminal_keeps_every_word_whole(monkeypatch, capsys):
    """A terminal table wraps cells at spaces; a word longer than its column would be folded mid-word
    (the descriptions' module paths were: "(labelstream.simul" / "ate.imbalanced_dat" / "a)")."""
    from labelstream.cli import datasets_cmd, output
    from labelstream.simulate.datasets import DATASETS

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    datasets_cmd.list_datasets(as_json=False)
    printed = capsys.readouterr().out
    assert max(map(len, printed.splitlines())) <= 80
    words = set(printed.split())
    for spec in DATASETS.values():
        assert spec.name in words and set(spec.description.split()) <= words, spec.description
