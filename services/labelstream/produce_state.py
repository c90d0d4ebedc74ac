"""Where a ``produce`` run got to, so that ``--resume`` sends every row exactly once.

A run that could not deliver every row writes a state file beside the input
(``<file>.produce-state.json``): the lines the broker confirmed, the lines it
did not (with their ids and why), and per partition of ``records`` the end
offset when the first run started and the last offset the broker confirmed.
``--resume`` skips the confirmed lines. A row that was in flight when the run
failed is *in doubt*: the broker may have written it without the
confirmation reaching us. Before re-sending such rows, ``--resume`` reads the
few messages each partition holds after its last confirmed offset (or after
the first run's start) and skips the ids it finds there, so no row is sent
twice.

>>> state = ProduceState(file="data.csv", size=10, topic="records")
>>> state.mark_delivered([2, 3, 4, 7]); state.mark_delivered([5])
>>> state.delivered, state.is_delivered(6), state.is_delivered(5)
([[2, 5], [7, 7]], False, True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labelstream.errors import InputFileError

SUFFIX = ".produce-state.json"


@dataclass
class ProduceState:
    """What earlier runs of ``produce`` delivered from one file."""

    file: str
    size: int | None
    topic: str
    delivered: list[list[int]] = field(default_factory=list)
    """Confirmed lines, as sorted inclusive ranges ``[first, last]``."""
    start_offsets: dict[int, int] = field(default_factory=dict)
    acked_offsets: dict[int, int] = field(default_factory=dict)
    undelivered: list[dict] = field(default_factory=list)
    """The last run's rows the broker did not confirm: ``{"line", "id", "reason"}``."""
    unsent_from_line: int | None = None
    """The first line the last run never sent (it stopped at the first delivery failure)."""

    def __post_init__(self) -> None:
        self._lines: set[int] | None = None

    @staticmethod
    def path_for(file: str | Path) -> Path:
        return Path(f"{file}{SUFFIX}")

    @classmethod
    def load(cls, file: str | Path, topic: str) -> ProduceState:
        """The state of ``file``'s earlier runs (an :class:`InputFileError` when there is none or it does not fit)."""
        path = cls.path_for(file)
        if not path.is_file():
            raise InputFileError(f"{path}: no state to resume from; every row of {file} was delivered, or it never ran")
        data = json.loads(path.read_text())
        data["start_offsets"] = {int(p): o for p, o in data.get("start_offsets", {}).items()}
        data["acked_offsets"] = {int(p): o for p, o in data.get("acked_offsets", {}).items()}
        state = cls(**data)
        if state.topic != topic:
            raise InputFileError(f"{path}: that run produced to {state.topic!r}, not {topic!r}")
        if state.size is not None and state.size != file_size(file):
            raise InputFileError(f"{file} changed since the run that wrote {path}; --resume needs the same file")
        return state

    def save(self) -> Path:
        """Write the state atomically beside the input file; its path."""
        path = self.path_for(self.file)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)
        return path

    def remove(self) -> None:
        self.path_for(self.file).unlink(missing_ok=True)

    # -- lines -----------------------------------------------------------------------------------

    def is_delivered(self, line: int) -> bool:
        if self._lines is None:
            self._lines = {n for first, last in self.delivered for n in range(first, last + 1)}
        return line in self._lines

    def mark_delivered(self, lines: Iterable[int]) -> None:
        if self._lines is None:
            self.is_delivered(0)
        assert self._lines is not None
        self._lines.update(lines)
        self.delivered = to_ranges(self._lines)

    def note_offsets(self, acked: dict[int, int]) -> None:
        for partition, offset in acked.items():
            self.acked_offsets[partition] = max(offset, self.acked_offsets.get(partition, -1))

    def in_doubt_from(self) -> dict[int, int]:
        """Per partition, the first offset a row of an earlier run may sit at without our having its confirmation."""
        partitions = set(self.start_offsets) | set(self.acked_offsets)
        return {p: max(self.start_offsets.get(p, 0), self.acked_offsets.get(p, -1) + 1) for p in partitions}


def to_ranges(lines: Iterable[int]) -> list[list[int]]:
    """Sorted inclusive ranges covering ``lines``.

    >>> to_ranges([5, 1, 2, 3, 9])
    [[1, 3], [5, 5], [9, 9]]
    """
    ranges: list[list[int]] = []
    for line in sorted(set(lines)):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1][1] = line
        else:
            ranges.append([line, line])
    return ranges


def file_size(file: str | Path) -> int | None:
    try:
        return Path(file).stat().st_size
    except OSError:
        return None
