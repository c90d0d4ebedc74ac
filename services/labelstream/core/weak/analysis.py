"""LF analysis, streaming: coverage, overlap, conflict and empirical accuracy of each labeling function.

The same figures as Snorkel's ``LFAnalysis`` summary, kept as running
counts (bounded memory, one pass):

- **coverage**: share of records the LF voted on;
- **overlap**: share of records it voted on where another LF voted too;
- **conflict**: share of records it voted on where another LF voted a different label;
- **polarity**: the labels it voted;
- **empirical accuracy**: share of its votes that matched the human answer, over answered records.

>>> analysis = LFAnalysis(["a", "b"])
>>> analysis.observe([("x", "x"), ("x", "y"), (None, "y"), (None, None)])
>>> analysis.observe_answer(("x", "y"), "y")
>>> row = analysis.summary()["a"]
>>> row["coverage"], row["overlap"], row["conflict"], row["polarity"], row["empirical_accuracy"]
(0.5, 0.5, 0.25, ['x'], 0.0)
>>> analysis.summary()["b"]["empirical_accuracy"], analysis.summary()["b"]["answered_votes"]
(1.0, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Votes = Sequence[str | None]
MAX_POLARITY = 50  # distinct labels remembered per LF


class LFAnalysis:
    """Running LF statistics over routed records (:meth:`observe`) and answered ones (:meth:`observe_answer`)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._reset()

    def _reset(self) -> None:
        n = len(self.names)
        self.records = 0
        self.answered = 0
        self.votes = [0] * n
        self.overlaps = [0] * n
        self.conflicts = [0] * n
        self.answered_votes = [0] * n
        self.correct = [0] * n
        self.polarity: list[set[str]] = [set() for _ in range(n)]

    def observe(self, batch: Sequence[Votes]) -> None:
        """Count a batch of records' votes."""
        self.records += len(batch)
        votes, overlaps, conflicts, polarity = self.votes, self.overlaps, self.conflicts, self.polarity
        for record_votes in batch:
            voting = [(j, v) for j, v in enumerate(record_votes) if v is not None]
            if not voting:
                continue
            distinct = {v for _, v in voting}
            several = len(voting) > 1
            for j, v in voting:
                votes[j] += 1
                if several:
                    overlaps[j] += 1
                    if len(distinct) > 1:
                        conflicts[j] += 1
                if len(polarity[j]) < MAX_POLARITY:
                    polarity[j].add(v)

    def observe_answer(self, votes: Votes, label: str) -> None:
        """Count one record's votes against its human answer."""
        self.answered += 1
        for j, v in enumerate(votes):
            if v is not None:
                self.answered_votes[j] += 1
                self.correct[j] += v == label

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per LF: the figures of the module docstring (``None`` where nothing was seen)."""
        def share(part: int, whole: int) -> float | None:
            return part / whole if whole else None

        return {
            name: {
                "coverage": share(self.votes[j], self.records),
                "overlap": share(self.overlaps[j], self.records),
                "conflict": share(self.conflicts[j], self.records),
                "polarity": sorted(self.polarity[j]),
                "votes": self.votes[j],
                "answered_votes": self.answered_votes[j],
                "empirical_accuracy": share(self.correct[j], self.answered_votes[j]),
            }
            for j, name in enumerate(self.names)
        }

    def state(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "answered": self.answered,
            "per_lf": {
                name: [self.votes[j], self.overlaps[j], self.conflicts[j], self.answered_votes[j], self.correct[j],
                       sorted(self.polarity[j])]
                for j, name in enumerate(self.names)
            },
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._reset()
        if not state:
            return
        self.records = int(state.get("records", 0))
        self.answered = int(state.get("answered", 0))
        for j, name in enumerate(self.names):
            row = state.get("per_lf", {}).get(name)
            if row is None:
                continue
            self.votes[j], self.overlaps[j], self.conflicts[j], self.answered_votes[j], self.correct[j] = map(int, row[:5])
            self.polarity[j] = set(row[5])
