"""Runs the Quix Streams peer (:mod:`labelstream.bench.quix_peer`) in a virtual environment of its own.

quixstreams 3.28 pins confluent-kafka < 2.13 and labelstream needs a newer
one, so the peer gets ``.stack/quix-venv`` (made once, pinned versions, about
3 minutes on this machine) with the same river and orjson as labelstream.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
from confluent_kafka.admin import NewTopic

from labelstream.bench.workload import BENCH_NOISE, synthetic_records
from labelstream.kafka.topics import admin_client
from labelstream.settings import Settings

QUIXSTREAMS = "quixstreams==3.28.1"
PEER_SCRIPT = Path(__file__).with_name("quix_peer.py")
PEER_THRESHOLD = 0.9
"""The peer's confidence threshold: a fixed threshold is what the afternoon version does."""


def peer_python(venv: Path, say: Callable[[str], None] = print) -> Path:
    """The peer venv's interpreter, making the venv first if needed."""
    python = venv / "bin" / "python"
    if python.exists():
        return python
    import orjson as our_orjson
    import river

    say(f"making the Quix Streams peer's virtual environment in {venv} (once, a few minutes)...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", QUIXSTREAMS, f"river=={river.__version__}", f"orjson=={our_orjson.__version__}"],
        check=True,
    )
    return python


def write_warm_records(path: Path, n: int = 4000, seed: int = 99) -> None:
    """The records :func:`~labelstream.bench.workload.warm_state` trains the labeler's model on, as JSON lines."""
    with path.open("wb") as out:
        for payload, label in synthetic_records(n, seed=seed, prefix="warm", noise=BENCH_NOISE):
            out.write(orjson.dumps({"features": payload["features"], "label": label}) + b"\n")


class PeerProcess:
    """The peer as a subprocess, with what :func:`~labelstream.bench.committed.wait_committed` reads."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.name = "quix-peer"
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def result(self) -> dict | None:
        """What the peer printed when it stopped: ``{"records", "labels", "reviews", ...}``."""
        text = self.log_path.read_text(errors="replace")
        found = text.rfind('{"records"')
        return None if found < 0 else json.loads(text[found:].splitlines()[0])

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_peer(settings: Settings, group: str, work_dir: Path, venv: Path, say: Callable[[str], None] = print) -> PeerProcess:
    """The peer consuming ``settings.topics.records`` from the start in consumer group ``group``, until stopped."""
    python = peer_python(venv, say)
    work_dir.mkdir(parents=True, exist_ok=True)
    warm = work_dir / "quix-warm.jsonl"
    if not warm.exists():
        write_warm_records(warm)
    source = settings.topics.records
    sinks = peer_sink_topics(settings)
    admin = admin_client(settings)
    existing = set(admin.list_topics(timeout=10).topics)
    new = [NewTopic(t, settings.topics.partitions, 1) for t in sinks if t not in existing]
    for future in (admin.create_topics(new).values() if new else []):
        future.result()
    command = [
        str(python), str(PEER_SCRIPT), "--bootstrap", settings.kafka.bootstrap_servers, "--source", source,
        "--labels", sinks[0], "--review", sinks[1], "--warm", str(warm), "--group", group,
        "--threshold", str(PEER_THRESHOLD),
    ]
    return PeerProcess(command, work_dir / "quix-peer.log")


def peer_sink_topics(settings: Settings) -> list[str]:
    return [f"{settings.topics.records}.quix-labels", f"{settings.topics.records}.quix-review"]
