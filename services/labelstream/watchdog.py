"""A watchdog for blocking client calls that can outlive their own timeout.

librdkafka's ``send_offsets_to_transaction`` can block past its timeout when
the group coordinator goes away and comes back (a broker restart; librdkafka
issues 5456 and 5511), and a thread blocked in C cannot be interrupted. The
labeler guards each transactional call; when one overstays, the process
restarts itself in place (``exec``), which is the crash-and-restart its
transactions are built to survive: the new producer's ``init_transactions``
aborts the stuck transaction and the batch is redone from the committed offsets.

>>> fired = []
>>> watchdog = StallWatchdog(fired.append, check_every=0.01)
>>> with watchdog.guard("quick call", seconds=5):
...     pass
>>> with watchdog.guard("stuck call", seconds=0.02):
...     time.sleep(0.2)
>>> fired
['stuck call (over 0.02 s)']
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("labelstream.watchdog")


class StallWatchdog:
    """Calls ``on_stall(what)`` (once) when a guarded block runs longer than its allowance."""

    def __init__(self, on_stall: Callable[[str], None], check_every: float = 1.0) -> None:
        self.on_stall = on_stall
        self.check_every = check_every
        self._deadline: float | None = None
        self._what = ""
        self._fired = False
        self._thread = threading.Thread(target=self._run, name="stall-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def guard(self, what: str, seconds: float) -> Iterator[None]:
        self._what = f"{what} (over {seconds:g} s)"
        self._deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self._deadline = None

    def _run(self) -> None:
        while not self._fired:
            time.sleep(self.check_every)
            deadline = self._deadline
            if deadline is not None and time.monotonic() > deadline:
                self._fired = True
                self.on_stall(self._what)


def restart_in_place(reason: str) -> None:
    """Replace this process with a fresh run of the same command line (same pid, same environment)."""
    log.error("%s: restarting in place", reason)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


class ProgressWatchdog:
    """Calls ``on_stall(reason)`` (once) when work is waiting but nothing was done for ``stall_seconds``.

    For a consumer that can stall without an error (faust after a broker
    restart): ``pending()`` says whether input is waiting; :meth:`progress` is
    called for each unit of work done.

    >>> fired = []
    >>> watchdog = ProgressWatchdog(lambda: True, stall_seconds=0.05, on_stall=fired.append, check_every=0.01)
    >>> watchdog.start(); time.sleep(0.3); fired
    ['no progress for 0.05 s while input waits']
    """

    def __init__(
        self, pending: Callable[[], bool], stall_seconds: float, on_stall: Callable[[str], None], check_every: float = 5.0
    ) -> None:
        self.pending = pending
        self.stall_seconds = stall_seconds
        self.on_stall = on_stall
        self.check_every = check_every
        self._last_progress = time.monotonic()

    def progress(self) -> None:
        self._last_progress = time.monotonic()

    def start(self) -> None:
        threading.Thread(target=self._run, name="progress-watchdog", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.check_every)
            if time.monotonic() - self._last_progress < self.stall_seconds:
                continue
            try:
                waiting = self.pending()
            except Exception as exc:  # noqa: BLE001 - cannot tell (broker down): not a stall of ours
                log.debug("progress watchdog: %s", exc)
                continue
            if waiting:
                self.on_stall(f"no progress for {self.stall_seconds:g} s while input waits")
                return
            self.progress()
