"""The label set: the labels a reviewer may give and the learner may learn.

It is the union, in this order, of the ``labels.classes`` setting, the lines of
``labels.taxonomy_file`` and the labels an admin added with ``labelstream labels
add NAME`` (a Redis sorted set by time added, ``<prefix>:labels``). It only
grows: there is no remove, because answers already given with a label must stay
learnable. While all three are empty the set is *open*: any label is accepted
(simulations and the demo, which answer with a dataset's labels).

The review API refuses a label outside the set (422) and the learner
dead-letters it (``unknown_label``), so a typo never becomes a class.

>>> parse_taxonomy("# animals\\ncat\\n\\ndog  # a comment\\ncat\\n")
['cat', 'dog']
>>> check_label_name("  ")
Traceback (most recent call last):
...
ValueError: a label is 1 to 100 printable characters without leading or trailing spaces (got '  ')
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import redis

from labelstream.settings import Settings

MAX_LABEL_LENGTH = 100
OPEN_RECHECK_SECONDS = 1.0
"""An open set is checked again after this long (the learner asks for every correction)."""


def check_label_name(name: str) -> str:
    """``name`` if it can be a label, else :class:`ValueError` saying why."""
    if (
        not name
        or len(name) > MAX_LABEL_LENGTH
        or name != name.strip()
        or not name.isprintable()
    ):
        raise ValueError(
            f"a label is 1 to {MAX_LABEL_LENGTH} printable characters without leading or trailing spaces (got {name!r})"
        )
    return name


def parse_taxonomy(text: str) -> list[str]:
    """Labels of a taxonomy file: one a line, ``#`` starts a comment, blank lines and repeats ignored."""
    labels: list[str] = []
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name and name not in labels:
            labels.append(check_label_name(name))
    return labels


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


class LabelSet:
    """The configured labels plus those added in Redis (see the module docstring).

    Parameters
    ----------
    client
        Redis, where added labels live.
    prefix
        The Redis key prefix (``redis.key_prefix``).
    configured
        Labels from the settings and the taxonomy file, in hotkey order.
    """

    def __init__(self, client: redis.Redis, prefix: str, configured: Sequence[str] = ()) -> None:
        self.client = client
        self.key = f"{prefix}:labels"
        self.configured = _unique(check_label_name(name) for name in configured)
        self._configured_set = frozenset(self.configured)
        self._known: set[str] = set(self.configured)  # the set only grows: a label seen in it stays in it
        self._open_until = 0.0

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> LabelSet:
        return cls(client, settings.redis.key_prefix, read_labels(settings))

    def added(self) -> list[str]:
        """Labels added by ``labelstream labels add``, oldest first."""
        return [member.decode() for member in self.client.zrange(self.key, 0, -1)]

    def labels(self) -> list[str]:
        """Every label, configured ones first: the order of the hotkeys 1-9."""
        return _unique([*self.configured, *self.added()])

    def is_open(self) -> bool:
        """No label defined anywhere: any label is accepted."""
        return not self.configured and self.client.zcard(self.key) == 0

    def __contains__(self, label: object) -> bool:
        """In the set (or the set is open). A label found once is remembered: no Redis call for it again."""
        if not isinstance(label, str):
            return False
        if label in self._known:
            return True
        if self._open_until > time.monotonic():  # open a moment ago: a label added since counts within a second
            return True
        pipe = self.client.pipeline(transaction=False)
        pipe.zscore(self.key, label)
        pipe.zcard(self.key)
        score, added = pipe.execute()
        if score is not None:
            self._known.add(label)
            return True
        is_open = not self.configured and added == 0
        if is_open:
            self._open_until = time.monotonic() + OPEN_RECHECK_SECONDS
        return is_open

    def add(self, name: str) -> bool:
        """Add a label (admin action); ``False`` when it was already in the set."""
        check_label_name(name)
        if name in self._configured_set:
            return False
        self._open_until = 0.0
        return bool(self.client.zadd(self.key, {name: time.time()}, nx=True))

    def describe(self) -> str:
        """The labels for an error message (``a, b, c`` or ``open``)."""
        labels = self.labels()
        return ", ".join(labels) if labels else "open: none defined"


def read_labels(settings: Settings) -> list[str]:
    """The configured part of the label set (settings and taxonomy file), without Redis."""
    configured = list(settings.labels.classes or [])
    if settings.labels.taxonomy_file is not None:
        configured += parse_taxonomy(settings.labels.taxonomy_file.read_text())
    return _unique(configured)
