"""What the labeler's health checks read of its transaction loop: is it turning, can it commit, what failed last."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class LoopState:
    """Is the loop turning, can it commit, what failed last (written by the loop, read by /livez and /readyz)."""

    started: bool = False
    last_turn: float = field(default_factory=time.monotonic)
    batches_committed: int = 0
    last_commit: float | None = None  # epoch seconds
    failing_since: float | None = None  # monotonic; None while commits succeed (or nothing to commit)
    last_error: str = ""
    retries: int = 0

    def turned(self) -> None:
        self.last_turn = time.monotonic()

    def failed(self, error: str) -> None:
        self.last_error = error
        self.retries += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    def succeeded(self) -> None:
        self.batches_committed += 1
        self.last_commit = time.time()
        self.failing_since = None
        self.last_error = ""
