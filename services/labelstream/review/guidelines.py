"""Labeling guidelines: a Markdown file (``review.guidelines_file``) shown beside each record.

Rendered on the server with markdown-it-py (CommonMark plus tables) with raw
HTML disabled, so a guidelines file cannot inject script into the page. The
file is read again when it changes: an editor's fix shows on the next claim.

>>> Guidelines.from_text("# Spam\\n\\nAnything *selling* something. <script>x</script>").html
'<h1>Spam</h1>\\n<p>Anything <em>selling</em> something. &lt;script&gt;x&lt;/script&gt;</p>\\n'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

NONE_CONFIGURED = (
    "No guidelines yet. An admin sets `review.guidelines_file` "
    "(`LABELSTREAM_REVIEW__GUIDELINES_FILE=guidelines.md`) to a Markdown file."
)

_RENDERER = MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass(frozen=True, slots=True)
class Guidelines:
    """The guidelines as Markdown and as safe HTML."""

    markdown: str
    html: str
    configured: bool = True

    @classmethod
    def from_text(cls, markdown: str, configured: bool = True) -> Guidelines:
        return cls(markdown, _RENDERER.render(markdown), configured)


class GuidelinesFile:
    """The guidelines of a file, re-read when its modification time changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime: float | None = None
        self._current = Guidelines.from_text(NONE_CONFIGURED, configured=False)

    def get(self) -> Guidelines:
        if self.path is None:
            return self._current
        try:
            mtime = self.path.stat().st_mtime
            if mtime != self._mtime:
                self._current = Guidelines.from_text(self.path.read_text(errors="replace"))
                self._mtime = mtime
        except OSError:  # moved away while serving: keep the last version read
            pass
        return self._current
