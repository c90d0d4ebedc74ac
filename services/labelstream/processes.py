"""Start, watch and stop labelstream services as real OS processes.

Used by the demo, ``simulate --via-kafka``, the benchmarks and the fault
suite: each service is ``python -m labelstream run <service>`` with the
settings passed through the environment, its log in a file, and its
``/healthz`` and ``/metrics`` on a known port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labelstream.settings import Settings, settings_to_env

_PORT_SETTING = {
    "labeler": "LABELSTREAM_LABELER__METRICS_PORT",
    "learner": "LABELSTREAM_LEARNER__METRICS_PORT",
    "review": "LABELSTREAM_REVIEW__PORT",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """One service process; restartable, killable, with its log and metrics port."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path, metrics_port: int | None) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.metrics_port = metrics_port
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if "TMPDIR" in self.env:
            Path(self.env["TMPDIR"]).mkdir(parents=True, exist_ok=True)  # tempfile ignores a TMPDIR that is not there
        log = self.log_path.open("ab")
        log.write(f"\n--- start {self.starts + 1} at {time.strftime('%H:%M:%S')} ---\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labelstream", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (the crash the fault suite simulates)."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.process is None:
            return None
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def health(self) -> dict | None:
        """The service's ``/healthz`` JSON, or ``None`` when it does not answer."""
        if self.metrics_port is None:
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=2) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                return json.loads(exc.read() or b"{}")
            return None

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        """Until ``/healthz`` answers (any status); raise with the log tail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.health() is not None:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not serve /healthz within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def interrupt_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``, a supervisor) stop this command as Ctrl-C does.

    Python's default for SIGTERM ends the process at once, skipping ``finally``:
    the services a command started (:func:`stop_all`) would run on, orphaned.
    Call it from the main thread of a command that starts services.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def stop_all(processes: Iterable[ServiceProcess], timeout: float = 30.0) -> None:
    """Stop ``processes`` together: SIGTERM to each at once, then wait for all (SIGKILL after ``timeout``).

    Each service's graceful stop (a consumer leaving its group, a last
    transaction or model version) overlaps the others' instead of adding up.
    """
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda proc: proc.stop(timeout), list(processes)))


def service(
    settings: Settings, kind: str, log_dir: Path, *extra_args: str, instance: str | None = None, env: dict | None = None
) -> ServiceProcess:
    """A (not yet started) ``labelstream run <kind>`` process for ``settings``.

    Its temporary files (the learner's faust data directory among them) go under
    ``log_dir/tmp``, next to its log: a test's services write only under its
    ``tmp_path``, never into the directory the tests were started from.
    """
    child_env = {**os.environ, **settings_to_env(settings), "TMPDIR": str(log_dir / "tmp"), **(env or {})}
    port = None
    if kind in _PORT_SETTING:
        port = free_port()
        child_env[_PORT_SETTING[kind]] = str(port)
    args = ["run", kind, *extra_args]
    name = kind
    if instance is not None:
        args += ["--instance", instance]
        name = f"{kind}-{instance}"
    return ServiceProcess(name, args, child_env, log_dir / f"{name}.log", port)
