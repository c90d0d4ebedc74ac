"""A blocking client call with a bound the caller keeps, even when the client does not.

librdkafka's ``send_offsets_to_transaction`` can block far past its own
timeout: its second step (``TxnOffsetCommit`` to the group coordinator) waits
for the coordinator to come back with no timeout at all (librdkafka issue 5456,
open in 2.16; 5511 makes it worse in a cluster), so a broker going down at
that moment holds the call for the whole outage. A thread blocked in C cannot
be interrupted, so :class:`BoundedCaller` makes the call on a helper thread and
the caller waits at most ``limit`` seconds, calling ``on_wait`` about every
second meanwhile (a loop that must show it turns). A call that overstays
raises :class:`CallOverstayed` and leaves the caller *spent*: its thread is
still inside the client, which the caller must stop using (for a transactional
producer: make a new one with the same ``transactional.id``, whose
``init_transactions`` fences the stuck one and aborts its transaction).

>>> import time
>>> caller = BoundedCaller("demo")
>>> caller.call(sum, [1, 2, 3], limit=5)
6
>>> caller.call(time.sleep, 0.5, limit=0.1)
Traceback (most recent call last):
...
labelstream.kafka.bounded.CallOverstayed: sleep still running after 0.1 s
>>> caller.spent, caller.finished(timeout=2)
(True, True)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class CallOverstayed(Exception):
    """The call did not return within its bound; it still runs on the helper thread."""


class BoundedCaller:
    """Calls a function on one helper thread and waits for it at most a bound (see the module docstring).

    The thread is a daemon (not a ``ThreadPoolExecutor``'s, which the interpreter
    joins at exit): a call stuck in C must not keep a stopping process alive.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple] | None] = queue.SimpleQueue()
        self._stuck: Future | None = None
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            future, fn, args = item
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

    @property
    def spent(self) -> bool:
        """A call overstayed: this caller (and what it called into) must not be used again."""
        return self._stuck is not None

    def call(self, fn: Callable[..., T], *args: Any, limit: float, on_wait: Callable[[], None] = lambda: None) -> T:
        """``fn(*args)`` on the helper thread: its result or its exception; :class:`CallOverstayed` after ``limit`` s."""
        if self._stuck is not None:
            raise CallOverstayed("this caller has a call still running")
        future: Future = Future()
        self._calls.put((future, fn, args))
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            try:
                return future.result(timeout=max(0.0, min(1.0, remaining)))
            except TimeoutError:
                if remaining <= 1.0:
                    self._stuck = future
                    self._calls.put(None)  # the thread ends once the call returns
                    raise CallOverstayed(f"{getattr(fn, '__name__', fn)} still running after {limit:g} s") from None
                on_wait()

    def finished(self, timeout: float = 0.0) -> bool:
        """No call is still running (waiting up to ``timeout`` s for a stuck one to return)."""
        if self._stuck is None:
            return True
        try:
            self._stuck.exception(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """End the helper thread (after a call still running, if any)."""
        self._calls.put(None)
