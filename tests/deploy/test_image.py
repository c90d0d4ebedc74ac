"""The Dockerfile, its healthcheck and the lockfiles, checked offline (there is no Docker engine here).

What a build would do is not run: these check what the Dockerfile says against
the code (entrypoint, ports, health endpoint, Python version, lockfiles), and run
the healthcheck script against a real HTTP server posing as a service process.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import threading
import tomllib
from pathlib import Path

import pytest
from deploy_support import PYPROJECT, SERVICES, service_port, settings_from_env
from prom_harness import REPO, free_port

DOCKERFILE = (REPO / "Dockerfile").read_text()
HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"
LOCKS = REPO / "requirements"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_base_image_is_an_exact_slim_python_matching_requires_python():
    (arg,) = [a for op, a in instructions() if op == "ARG" and a.startswith("PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    match = re.fullmatch(r"python:(3)\.(\d+)\.(\d+)-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?", image)
    assert match, f"{image} is not an exact slim Python tag"
    assert PYPROJECT["project"]["requires-python"] == f">=3.{match.group(2)}"
    makefile = (REPO / "Makefile").read_text()
    assert f"--python-version 3.{match.group(2)}" in makefile  # the lock resolves for the image's Python
    assert [a for op, a in instructions() if op == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_runtime_stage_is_non_root_with_entrypoint_healthcheck_and_ports():
    stage = final_stage()
    (user,) = [a for op, a in stage if op == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    assert ("ENTRYPOINT", '["labelstream"]') in stage
    (health,) = [a for op, a in stage if op == "HEALTHCHECK"]
    assert health.endswith('CMD ["labelstream-healthcheck"]')
    assert any(op == "COPY" and "deploy/docker/healthcheck.py /usr/local/bin/labelstream-healthcheck" in a for op, a in stage)
    (expose,) = [a for op, a in stage if op == "EXPOSE"]
    defaults = settings_from_env({})
    assert sorted(int(p) for p in expose.split()) == sorted(service_port(defaults, s) for s in SERVICES)


def test_installs_the_lockfile_with_hashes_and_builds_with_the_pinned_backend():
    runs = " ".join(a for op, a in instructions() if op == "RUN")
    assert "--require-hashes" in runs and "-r requirements/runtime.txt" in runs and "-r requirements/build.txt" in runs
    assert "--no-build-isolation" in runs  # the wheel is built by build.txt's setuptools, not whatever PyPI has today
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for op, args in instructions():
        if op == "COPY" and "--from=" not in args:
            for source in [a for a in args.split() if not a.startswith("--")][:-1]:
                assert (REPO / source).exists(), source
                assert f"!{source}" in ignored or f"!{source.rstrip('/')}/" in ignored, f"{source} is kept out by .dockerignore"


def locked(name: str) -> dict[str, str]:
    """package -> version of a lockfile (hashes required on every pin)."""
    text = (LOCKS / name).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\\\n]+)", text, re.M))
    assert pins and text.count("--hash=sha256:") >= len(pins), f"{name}: a pin without its hash"
    return {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in pins.items()}


def test_lockfiles_cover_the_metadata_and_agree():
    runtime, dev, build = locked("runtime.txt"), locked("dev.txt"), locked("build.txt")
    name = lambda spec: re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]).lower()  # noqa: E731
    project = PYPROJECT["project"]
    assert {name(d) for d in project["dependencies"]} <= runtime.keys()
    extras = project["optional-dependencies"]

    def requirements(extra: str) -> set[str]:
        """An extra's packages, ``labelstream[other]`` expanded to the other extra's."""
        out: set[str] = set()
        for spec in extras[extra]:
            if name(spec) == project["name"]:
                for other in re.search(r"\[(.*)\]", spec).group(1).split(","):
                    out |= requirements(other.strip())
            else:
                out.add(name(spec))
        return out

    for extra in ("dev", "fuzz"):
        assert requirements(extra) <= dev.keys(), extra
    assert all(dev[pkg] == version for pkg, version in runtime.items() if pkg in dev)  # the image runs what the tests ran
    assert set(build) == {name(r) for r in PYPROJECT["build-system"]["requires"]}  # the build backend is locked too
    assert "atheris" not in {name(d) for d in project["optional-dependencies"]["dev"]}  # fuzzing has its own extra


def test_build_backend_supports_the_license_metadata():
    """``license = "Apache-2.0"`` (PEP 639) needs setuptools >= 77; the pinned backend satisfies the requirement."""
    from packaging.requirements import Requirement

    (requirement,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert requirement.name == "setuptools" and requirement.specifier.contains("77.0.0")
    assert not requirement.specifier.contains("76.9")
    assert requirement.specifier.contains(locked("build.txt")["setuptools"])
    assert PYPROJECT["project"]["license"] == "Apache-2.0" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]


def load_healthcheck():
    spec = importlib.util.spec_from_file_location("healthcheck", HEALTHCHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_defaults_are_the_settings_defaults():
    module, defaults = load_healthcheck(), settings_from_env({})
    for service in SERVICES:
        env_name, default = module.PORTS[service]
        assert default == service_port(defaults, service)
        assert settings_from_env({env_name: "12345"}) != defaults  # the variable is the port setting's own
        assert service_port(settings_from_env({env_name: "12345"}), service) == 12345


class _Livez(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        self.send_response(self.status if self.path == "/livez" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_service(tmp_path: Path):
    """A process whose command line reads `labelstream run review --port P`, and a /livez server on P: (pid, port)."""
    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), _Livez)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = tmp_path / "labelstream"
    script.write_text("import time\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, str(script), "run", "review", "--port", str(port)])
    yield process.pid, port
    process.kill()
    process.wait()
    server.shutdown()
    server.server_close()


def run_healthcheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HEALTHCHECK), *args], capture_output=True, text=True, timeout=30)


def test_healthcheck_finds_the_service_and_probes_its_livez(fake_service, capsys):
    """The process is found by its command line (among its pid: this machine runs other labelstream services,
    a container only its own), its port taken from --port, its /livez probed."""
    pid, port = fake_service
    module = load_healthcheck()
    args = module.service_args([pid])
    assert args == ["review", "--port", str(port)]
    assert module.url_of(args) == f"http://127.0.0.1:{port}/livez"
    assert module.probe(module.url_of(args)) == 0
    _Livez.status = 503
    try:
        assert module.probe(module.url_of(args)) == 1
    finally:
        _Livez.status = 200
    assert module.service_args([os.getpid()]) is None  # not a service: healthy one-shot job
    assert run_healthcheck(f"http://127.0.0.1:{port}/livez").returncode == 0  # the script as Docker runs it
    failed = run_healthcheck(f"http://127.0.0.1:{free_port()}/livez")  # nothing listens
    assert failed.returncode == 1 and failed.stderr.startswith("unhealthy: ")


def test_healthcheck_reads_port_options_and_environment(monkeypatch):
    module = load_healthcheck()
    for env_name, _ in module.PORTS.values():
        monkeypatch.delenv(env_name, raising=False)
    monkeypatch.delenv(module.OPS_PORT, raising=False)
    assert module.url_of(["labeler", "--instance", "x"]).endswith(":9400/livez")
    assert module.url_of(["review", "--port=9999"]).endswith(":9999/livez")
    monkeypatch.setenv("LABELSTREAM_REVIEW__OPS_PORT", "9403")  # review.ops_port: the probes are there
    assert module.url_of(["review", "--port=9999"]).endswith(":9403/livez")
    monkeypatch.setenv("LABELSTREAM_LEARNER__METRICS_PORT", "9555")
    assert module.url_of(["learner"]).endswith(":9555/livez")
    assert textwrap.dedent(module.__doc__).strip()  # documented (it is the image's HEALTHCHECK)
