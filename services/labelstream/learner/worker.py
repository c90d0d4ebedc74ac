"""The learner's faust worker: a stop that cannot hang, no spinner off a terminal, and faust's empty data
directory removed after it."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import IO, Any

import faust

log = logging.getLogger("labelstream.learner")


class StoppableWorker(faust.Worker):
    """A faust worker whose stop cannot hang (faust can wait forever when stopped mid-rebalance).

    Safe because nothing relies on a graceful stop: unpublished corrections are
    replayed from the last snapshot's offsets. Its progress spinner runs only on
    a terminal: faust's writes cursor escape codes into a log file or a pipe.
    """

    STOP_GRACE_SECONDS = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not _is_terminal(self.stdout):
            self.spinner = None  # faust then logs "Ready" instead

    def _on_sigterm(self) -> None:
        _exit_after(self.STOP_GRACE_SECONDS)
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        _exit_after(self.STOP_GRACE_SECONDS)
        super()._on_sigint()


def remove_empty_dirs(root: Path) -> None:
    """Remove ``root`` and the directories under it, bottom-up, as far as they hold no file."""
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        if path.is_dir():
            try:
                path.rmdir()
            except OSError:
                pass  # not empty: a file in it is kept


def _is_terminal(stream: IO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _exit_after(seconds: float) -> None:
    def force() -> None:
        log.warning("learner did not stop within %.0f s: exiting", seconds)
        os._exit(0)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()
