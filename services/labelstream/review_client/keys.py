"""Single keystrokes from a terminal (cbreak mode), or from a pipe one character at a time.

On a terminal, :class:`KeyReader` switches it to cbreak mode (each key arrives
at once, not echoed; Ctrl-C still interrupts) and restores it on exit, also
when the program fails. From a pipe or file it reads the same keys as
characters, so ``printf '1s2uq' | labelstream review ...`` scripts a session.
Escape sequences (arrow keys, function keys) arrive as one ``"esc"`` key.

>>> import io, os
>>> read_end, write_end = os.pipe()
>>> _ = os.write(write_end, b"1s\\x1b[Aq/dog\\n")
>>> os.close(write_end)
>>> with KeyReader(io.FileIO(read_end)) as keys:
...     [keys.read(1.0) for _ in range(5)], keys.line("label: ", out=io.StringIO()), keys.read(1.0), keys.eof
(['1', 's', 'esc', 'q', '/'], 'dog', None, True)
"""

from __future__ import annotations

import os
import select
import sys
from typing import IO, Any

try:  # POSIX only: the terminal reviewer needs a POSIX terminal
    import termios
    import tty
except ImportError:  # pragma: no cover - Windows
    termios = tty = None  # type: ignore[assignment]

EOF = None
"""What :meth:`KeyReader.read` returns at the end of piped input, as well as on a timeout; see ``eof``."""


class KeyReader:
    """Keys from ``stream`` (default: stdin); use as a context manager."""

    def __init__(self, stream: IO[Any] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self.fd = self.stream.fileno()
        self.is_tty = os.isatty(self.fd) and termios is not None
        self.eof = False
        self._pending = ""
        self._saved: list[Any] | None = None

    def __enter__(self) -> KeyReader:
        if self.is_tty:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def read(self, timeout: float | None) -> str | None:
        """The next key, or ``None`` after ``timeout`` seconds without one (or at the end of piped input)."""
        if not self._pending and not self._fill(timeout):
            return None
        if self._pending.startswith("\x1b"):
            self._pending = _after_escape(self._pending)
            return "esc"
        key, self._pending = self._pending[0], self._pending[1:]
        if key == "\n" and not self.is_tty:  # piped keys may come a line at a time
            return self.read(timeout)
        return key

    def line(self, prompt: str, out: IO[str] | None = None) -> str:
        """A line typed after ``prompt`` (Enter ends it; editing as the terminal does it), stripped."""
        out = out or sys.stdout
        out.write(prompt)
        out.flush()
        if self.is_tty and self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)  # cooked: echo and line editing
        try:
            while "\n" not in self._pending and self._fill(None):
                pass
        finally:
            if self.is_tty and self._saved is not None:
                tty.setcbreak(self.fd)
        text, _, self._pending = self._pending.partition("\n")
        if not self.is_tty:  # a terminal echoed it; show piped input the same way
            out.write(text + "\n")
            out.flush()
        return text.strip()

    def _fill(self, timeout: float | None) -> bool:
        if self.eof:
            return False
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(self.fd, 1024)
        if not data:
            self.eof = True
            return False
        self._pending += data.decode(errors="replace")
        return True


def _after_escape(text: str) -> str:
    """``text`` without the escape sequence it starts with (CSI ``ESC [ ... final``, SS3 ``ESC O x``, or a lone ESC).

    >>> _after_escape("\\x1b[15~q"), _after_escape("\\x1bOAq"), _after_escape("\\x1bq")
    ('q', 'q', 'q')
    """
    if len(text) >= 2 and text[1] in "[O":
        end = 2
        while end < len(text) and not "\x40" <= text[end] <= "\x7e":
            end += 1
        return text[end + 1 :]
    return text[1:]
