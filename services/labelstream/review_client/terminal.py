"""``labelstream review --url URL --token T``: the review queue in a terminal, with the web page's keys.

One record at a time, through the same API v1 as the page: its features and
text, the model's proposal with its class probabilities, the reason it is
here; ``1``-``9`` answer with a label, ``/`` finds a label by name (more than
nine labels), ``s`` skips, ``e`` sends it to an expert (not sure), ``u`` undoes the last answer, ``n`` writes a note
sent with the next answer, ``g`` shows the guidelines, ``v`` the whole record,
``?`` the keys, ``q`` quits (a record on screen goes back to the queue:
``POST /api/v1/release``). While a record is on screen a heartbeat every
third of the lease keeps it; when nothing waits, the screen says so and looks
again every ``poll_seconds``. It fits the terminal (80 columns and up) and
redraws on resize; on a pipe it prints each screen as plain text and reads
the keys from stdin (``printf '12sq' | labelstream review ...``).

The API's refusals are told on the status line, never as a traceback: a lease
that ended (the record went back to the queue) moves on to the next record; a
service that does not answer is retried (an answer can be sent again safely:
the service keeps the first); only a refused token ends the session
(:class:`~labelstream.review_client.client.Unauthorized`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, RenderableType

from labelstream.review_client.client import (
    LeaseLost,
    Rejected,
    ReviewApiError,
    ReviewClient,
    ReviewItem,
    Unavailable,
)
from labelstream.review_client.keys import KeyReader
from labelstream.review_client.view import Screen, render, render_guidelines, render_help, render_recent, render_record

QUIT_KEYS = {"q", "Q", "\x04"}  # q, Ctrl-D


@dataclass
class SessionSummary:
    """What a terminal session did."""

    reviewer: str
    answered: int = 0
    skipped: int = 0
    undone: int = 0
    holding: str | None = None  # the record held at quit when it could not be released (its lease runs out)
    lease_seconds: float = 0.0


def find_label(labels: list[str] | tuple[str, ...], typed: str) -> str | None:
    """The label ``typed`` names: exact, else the first starting with it, else the first containing it (any case).

    >>> find_label(["cat", "caterpillar", "dog"], "CAT"), find_label(["cat", "dog"], "o"), find_label(["cat"], "x")
    ('cat', 'dog', None)
    """
    wanted = typed.strip().lower()
    if not wanted:
        return None
    lowered = [(label, label.lower()) for label in labels]
    for test in (str.__eq__, str.startswith, str.__contains__):
        for label, low in lowered:
            if test(low, wanted):
                return label
    return None


class TerminalReviewer:
    """The terminal session: draws :mod:`~labelstream.review_client.view` screens, reads keys, calls the API."""

    def __init__(
        self,
        client: ReviewClient,
        console: Console,
        keys: KeyReader,
        poll_seconds: float = 2.0,
        stats_seconds: float = 5.0,
    ) -> None:
        self.client = client
        self.console = console
        self.keys = keys
        self.poll_seconds = poll_seconds
        self.stats_seconds = stats_seconds
        self.screen = Screen(reviewer="")
        self.summary = SessionSummary(reviewer="")
        self._next_beat = 0.0
        self._stats_at = 0.0
        self._drawn: tuple | None = None

    # -- the session ---------------------------------------------------------------------------------

    def run(self) -> SessionSummary:
        """Work until ``q`` (or the end of piped keys); :class:`Unauthorized` ends it early."""
        me = self.client.me()
        self.screen.reviewer = self.summary.reviewer = str(me["reviewer"])
        try:
            while True:
                if self.screen.item is None:
                    self._claim()
                self._refresh_stats()
                self._draw()
                key = self.keys.read(self._timeout())
                if key is None:
                    if self.keys.eof:
                        break
                    self._heartbeat()
                    continue
                if key in QUIT_KEYS:
                    break
                self.handle(key)
        except KeyboardInterrupt:
            pass
        if self.screen.item is not None:
            try:  # hand it back now; if the service cannot take it, it returns when its lease ends
                self.client.release(self.screen.item.id, self.screen.item.lease)
            except ReviewApiError:
                self.summary.holding = self.screen.item.id
                self.summary.lease_seconds = self.screen.item.lease_seconds
        return self.summary

    def handle(self, key: str) -> None:
        """One key (other than quit)."""
        item = self.screen.item
        if key in "123456789" and item is not None:
            index = int(key) - 1
            if index < len(item.labels):
                self.answer(item.labels[index])
            else:
                self._say(f"no label {key}: this label set has {len(item.labels)}", "yellow")
        elif key == "/" and item is not None:
            typed = self.keys.line(" label: ")
            if not typed:
                self._say("")
                return
            label = find_label(item.labels, typed) if item.labels else typed
            if label is None:
                self._say(f"no label matches {typed!r}", "yellow")
            else:
                self.answer(label)
        elif key == "s" and item is not None:
            self.skip()
        elif key == "e" and item is not None:
            self.unsure()
        elif key == "u":
            self.undo()
        elif key == "n":
            self.screen.note = self.keys.line(" note (Enter alone clears it): ")
            self._drawn = None
        elif key == "r":
            self.correct_recent()
        elif key == "g":
            self._show(self._guidelines())
        elif key == "v" and item is not None:
            self._show(render_record(item))
        elif key == "?":
            self._show(render_help(None if item is None else item.reason))
        # any other key: nothing

    # -- the actions -----------------------------------------------------------------------------------

    def answer(self, label: str) -> None:
        item = self.screen.item
        assert item is not None
        try:
            receipt = self.client.answer(item.id, item.lease, label, self.screen.note or None)
        except LeaseLost:
            self._lost(item)
            return
        except Rejected as exc:
            self._say(exc.detail, "red")
            return
        except Unavailable as exc:
            self._say(f"{exc.detail}: not answered, press the key again", "red")
            return
        more = " · waiting for the other reviewers" if receipt.state == "waiting" else ""
        undo = f" (u undoes it for {receipt.undo_seconds:.0f} s)" if receipt.undo_seconds > 0 else ""
        self._say(f"✓ {item.id}: {label}{more}{undo}", "green")
        self.summary.answered += 1
        self.screen.note = ""
        self._next(None)

    def skip(self) -> None:
        self._hand_on(lambda item, note: self.client.skip(item.id, item.lease, note), "s",
                      lambda item, noted, _: f"skipped {item.id}: it goes to the others{noted}")

    def unsure(self) -> None:
        self._hand_on(lambda item, note: self.client.unsure(item.id, item.lease, note), "e",
                      lambda item, noted, _: f"{item.id} goes to an expert{noted}")

    def _hand_on(self, send: Callable[[ReviewItem, str | None], object], key: str,
                 told: Callable[[ReviewItem, str, object], str]) -> None:
        """The record on screen goes on unanswered, the note with it (a skip, or to an expert); counted as skipped."""
        item = self.screen.item
        assert item is not None
        try:
            result = send(item, self.screen.note or None)
        except LeaseLost:
            self._lost(item)
            return
        except Unavailable as exc:
            self._say(f"{exc.detail}: not sent, press {key} again", "red")
            return
        except Rejected as exc:  # e with nobody else of the expert role: the record stays on screen
            self._say(exc.detail, "red")
            return
        self.summary.skipped += 1
        noted = " with your note" if self.screen.note else ""
        self.screen.note = ""
        self._say(told(item, noted, result), "yellow")
        self._next(None)

    def undo(self) -> None:
        try:
            result = self.client.undo()
        except LeaseLost as exc:
            self._say(f"nothing to undo ({exc.detail})", "yellow")
            return
        except Unavailable as exc:
            self._say(f"{exc.detail}: not undone (press u again to retry)", "red")
            return
        self.summary.undone += 1
        self.summary.answered -= 1
        was = f" ({result.label})" if result.label else ""
        self._say(f"↶ your answer to {result.item.id}{was} is withdrawn: answer it again", "yellow")
        self._next(result.item)

    def correct_recent(self) -> None:
        """``r``: the last nine answers; pick one by number, then its new label (a number or part of the name)."""
        try:
            rows = self.client.recent()[:9]
            labels = list(self.screen.item.labels) if self.screen.item else self.client.labels()[0]
        except ReviewApiError as exc:
            self._say(f"{exc.detail}: your recent answers could not be fetched", "red")
            return
        if not rows:
            self._say("no answers of yours to correct yet", "yellow")
            return
        self._drawn = None
        self.console.print(render_recent(rows, time.time()))
        pick = self.keys.line(f" correct which (1-{len(rows)}, Enter: none)? ")
        if not pick:
            self._say("")
            return
        if not pick.isdigit() or not 1 <= int(pick) <= len(rows):
            self._say(f"no answer {pick!r} in the list", "yellow")
            return
        row = rows[int(pick) - 1]
        choices = "  ".join(f"{i} {name}" for i, name in enumerate(labels[:9], 1))
        typed = self.keys.line(f" new label for {row['id']} ({choices}): ")
        if typed.isdigit() and 1 <= int(typed) <= min(9, len(labels)):
            label: str | None = labels[int(typed) - 1]
        else:
            label = find_label(labels, typed) if typed and labels else (typed or None)
        if label is None:
            self._say(f"no label matches {typed!r}: nothing changed", "yellow")
            return
        try:
            result = self.client.correct(row["answer_id"], label, self.screen.note or None)
        except LeaseLost as exc:  # 409: too old, a second review, corrected meanwhile
            self._say(f"{row['id']} not changed: {exc.detail}", "yellow")
            return
        except ReviewApiError as exc:
            self._say(f"{row['id']} not changed: {exc.detail}", "red")
            return
        changed = "corrected" if result.get("changed") else "unchanged"
        if result.get("changed") and result.get("consensus"):
            changed += ", its consensus " + ("counts it" if result["consensus"] == "pending" else "is recomputed")
        self._say(f"✎ {row['id']}: {row['label']} → {label} ({changed})", "green")

    # -- plumbing ----------------------------------------------------------------------------------------

    def _claim(self) -> None:
        try:
            item = self.client.claim()
        except Unavailable as exc:
            self.screen.waiting = f"{exc.detail}; trying again every {self.poll_seconds:.0f} s (q quits)"
            return
        self.screen.waiting = "Nothing to review right now; new records appear here as they come (q quits)."
        if item is not None:
            self._next(item)

    def _next(self, item: ReviewItem | None) -> None:
        self.screen.item = item
        self._stats_at = 0.0  # counts changed: refresh
        if item is not None:
            self._next_beat = time.monotonic() + max(1.0, item.lease_seconds / 3)

    def _lost(self, item: ReviewItem) -> None:
        self._say(f"your lease on {item.id} had ended: it went back to the queue", "red")
        self._next(None)

    def _heartbeat(self) -> None:
        item = self.screen.item
        if item is None or time.monotonic() < self._next_beat:
            return
        try:
            self.client.heartbeat(item.id, item.lease)
            self._next_beat = time.monotonic() + max(1.0, item.lease_seconds / 3)
        except LeaseLost:
            self._lost(item)
        except Unavailable as exc:  # try again soon; the lease may outlive the outage
            self._next_beat = time.monotonic() + self.poll_seconds
            self._say(f"{exc.detail}: could not extend the lease, retrying", "red")

    def _timeout(self) -> float:
        if self.screen.item is None:
            return self.poll_seconds
        return max(0.05, min(self._next_beat - time.monotonic(), self.stats_seconds))

    def _refresh_stats(self) -> None:
        if time.monotonic() - self._stats_at < self.stats_seconds:
            return
        try:
            self.screen.stats = self.client.stats()
        except ReviewApiError:
            pass  # the header just keeps the last figures
        self._stats_at = time.monotonic()

    def _guidelines(self) -> RenderableType:
        try:
            return render_guidelines(self.client.guidelines())
        except Unavailable as exc:
            return render_guidelines(f"*The guidelines could not be fetched: {exc.detail}.*")

    def _say(self, message: str, style: str = "green") -> None:
        self.screen.message, self.screen.message_style = message, style

    def _draw(self) -> None:
        size = self.console.size
        item = self.screen.item
        state = (item.id if item else None, item.lease if item else None, self.screen.message, self.screen.note,
                 self.screen.waiting, repr(self.screen.stats), tuple(size))
        if state == self._drawn:
            return
        self._drawn = state
        if self.console.is_terminal:
            self.console.clear()
        self.console.print(render(self.screen, size), end="" if self.console.is_terminal else "\n")

    def _show(self, renderable: RenderableType) -> None:
        """A page of text until any key: on screen if it fits, else in the pager."""
        self._drawn = None
        lines = self.console.render_lines(renderable, self.console.options, pad=False)
        if not self.console.is_terminal:
            self.console.print(renderable)
            return
        if len(lines) <= self.console.size.height - 2:
            self.console.clear()
            self.console.print(renderable)
            self.console.print("\n any key to go back", style="dim", end="")
            self.keys.read(None)
            return
        with self.console.pager(styles=True):
            self.console.print(renderable)
