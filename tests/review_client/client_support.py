"""Helpers of the review client tests: the review service with its own topics, truth files, a terminal on a pty."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

# The review service's test helpers (requests on the review topic, the service as a process, tokens) live
# beside its tests; the clients' tests use the same ones rather than copies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "review"))

from review_support import (  # noqa: E402
    LABELS,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_sections,
    start_review,
    url,
    wait_enqueued,
    wait_for,
)

from labelstream.kafka.topics import create_topics  # noqa: E402
from labelstream.processes import ServiceProcess  # noqa: E402
from labelstream.settings import Settings, settings_to_env  # noqa: E402
from stack_support import REPO, unique_settings  # noqa: E402

__all__ = [
    "LABELS", "LABELSTREAM", "REPO", "Terminal", "cli_env", "client", "corrections", "new_token", "publish_requests", "request",
    "review_sections", "review_stack", "start_review", "url", "wait_enqueued", "wait_for", "write_truth",
]

LABELSTREAM = str(Path(sys.executable).with_name("labelstream"))


def review_stack(base: Settings, log_dir: Path, **review: object) -> tuple[Settings, ServiceProcess]:
    """Settings with their own topics and keys (the label set cat, dog, bird) and a review service serving them."""
    settings = unique_settings(base, 3, **review_sections(**review))
    create_topics(settings)
    return settings, start_review(settings, log_dir)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points the ``labelstream`` command at ``settings``."""
    return {**os.environ, **settings_to_env(settings), **extra}


def write_truth(path: Path, truth: Mapping[str, str]) -> Path:
    """A JSONL file with the true labels, as ``reviewer-sim --data ... --label-column label --id-column id`` reads it."""
    path.write_text("".join(json.dumps({"id": record_id, "x": 0.0, "label": label}) + "\n" for record_id, label in truth.items()))
    return path


class Terminal:
    """A command in a real pseudo-terminal (pexpect), its output rendered as a person sees it (pyte)."""

    def __init__(self, argv: list[str], env: Mapping[str, str], rows: int = 24, columns: int = 80) -> None:
        import pexpect
        import pyte

        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)
        self.transcript: list[str] = []
        self.child = pexpect.spawn(argv[0], argv[1:], env={**env, "TERM": "xterm-256color"}, dimensions=(rows, columns),
                                   encoding="utf-8", codec_errors="replace")

    def pump(self, timeout: float = 0.2) -> None:
        import pexpect

        try:
            data = self.child.read_nonblocking(65536, timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            return
        self.transcript.append(data)
        self.stream.feed(data)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, condition: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            text = self.text()
            if condition(text):
                return text
            if not self.child.isalive():
                self.pump(0.5)
                if condition(self.text()):
                    return self.text()
                raise AssertionError(f"the program ended while waiting for {what}; the screen:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; the screen:\n{text}")

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def close(self) -> int | None:
        """Wait for the program to end (pumping its output); its exit status."""
        deadline = time.monotonic() + 30
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump()
        self.pump()
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()
        return self.child.exitstatus
