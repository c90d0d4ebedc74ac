"""TEMPORARY stand-in for ``labelstream.core.consensus`` and ``labelstream.core.agreement``.

The consensus engineer builds those modules (interface in COORDINATION.md);
until they are on main, :mod:`~labelstream.review.consolidation` uses this
majority vote and these textbook agreement formulas. Delete this file once the
core modules land (the import in ``consolidation.py`` prefers them already).

>>> MajorityConsensus().predict_one({"ana": "cat", "bob": "dog"})
'cat'
>>> round(cohen_kappa([("a", "a"), ("b", "b"), ("a", "b"), ("b", "b")]), 3)
0.5
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Mapping, Sequence


class MajorityConsensus:
    """The most frequent label; a tie goes to the label answered first."""

    def learn_one(self, answers: Mapping[str, str]) -> None:
        pass

    def predict_proba_one(self, answers: Mapping[str, str]) -> dict[str, float]:
        counts = Counter(answers.values())
        total = sum(counts.values())
        return {label: n / total for label, n in counts.items()} if total else {}

    def predict_one(self, answers: Mapping[str, str]) -> str | None:
        counts = Counter(answers.values())
        return max(counts, key=counts.__getitem__) if counts else None  # Counter keeps first-seen order

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict) -> None:
        pass


def needs_adjudication(answers: Mapping[str, str]) -> bool:
    return len(set(answers.values())) > 1


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float:
    if not pairs:
        return float("nan")
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in first) / n**2
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def krippendorff_alpha(items: Sequence[Mapping[str, str]]) -> float:
    coincidences: Counter[tuple[str, str]] = Counter()
    for answers in items:
        values = list(answers.values())
        if len(values) < 2:
            continue
        for a, b in itertools.permutations(values, 2):
            coincidences[(a, b)] += 1 / (len(values) - 1)
    totals: Counter[str] = Counter()
    for (a, _b), weight in coincidences.items():
        totals[a] += weight
    n = sum(totals.values())
    disagree = sum(w for (a, b), w in coincidences.items() if a != b)
    expected = sum(totals[a] * totals[b] for a in totals for b in totals if a != b)
    if n <= 1 or expected == 0:
        return float("nan")
    return 1 - (n - 1) * disagree / expected


class AgreementTracker:
    """Agreement over the last ``window`` overlap items."""

    def __init__(self, window: int = 1000) -> None:
        self.window = window
        self._items: deque[tuple[dict[str, str], str | None]] = deque(maxlen=window)

    def add_item(self, answers: Mapping[str, str], consensus: str | None) -> None:
        self._items.append((dict(answers), consensus))

    def kappa(self) -> float:
        reviewers = sorted({r for answers, _ in self._items for r in answers})
        kappas = []
        for a, b in itertools.combinations(reviewers, 2):
            pairs = [(ans[a], ans[b]) for ans, _ in self._items if a in ans and b in ans]
            if pairs:
                kappas.append(cohen_kappa(pairs))
        return sum(kappas) / len(kappas) if kappas else float("nan")

    def alpha(self) -> float:
        return krippendorff_alpha([answers for answers, _ in self._items])

    def consensus_agreement(self) -> dict[str, float]:
        agreed: Counter[str] = Counter()
        given: Counter[str] = Counter()
        for answers, consensus in self._items:
            for reviewer, label in answers.items():
                given[reviewer] += 1
                agreed[reviewer] += label == consensus
        return {reviewer: agreed[reviewer] / n for reviewer, n in given.items()}

    def state(self) -> dict:
        return {"items": [[answers, consensus] for answers, consensus in self._items]}

    def load_state(self, state: dict) -> None:
        self._items = deque(((dict(a), c) for a, c in state.get("items", [])), maxlen=self.window)
