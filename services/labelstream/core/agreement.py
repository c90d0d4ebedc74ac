"""Agreement between reviewers: Cohen's kappa, Krippendorff's alpha, and a tracker over recent items.

Two reviewers who agree 90 % of the time may be no better than chance if
nearly every item has the same label; chance-corrected agreement answers
"how much better than chance". Both measures below are ``1`` for perfect
agreement, ``0`` for agreement at chance level and negative below it.

- :func:`cohen_kappa` [^1], for one pair of reviewers:
  ``(p_o - p_e) / (1 - p_e)``, with ``p_o`` the share of items on which they
  agree and ``p_e = sum_l p_1(l) * p_2(l)`` the agreement expected if each
  answered independently at their own label frequencies.
- :func:`krippendorff_alpha` [^2], nominal, for any number of reviewers and
  items answered by any subset of them: ``1 - D_o / D_e``, the observed
  disagreement over pairs of answers within an item against the disagreement
  expected over pairs drawn from all answers. Items with one answer carry no
  pair and are left out.
- :class:`AgreementTracker` keeps a window of recent overlap items and gives
  the mean pairwise kappa over reviewer pairs (Light's kappa [^3]), alpha and
  each reviewer's agreement with the consolidated label.

Both are ``nan`` where they are undefined: no pair of answers, or a single
label used throughout (``p_e = 1``: agreement cannot be told from chance).

>>> cohen_kappa([("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15)
0.4
>>> round(krippendorff_alpha([{"a": "x", "b": "x"}, {"a": "y", "b": "y"}, {"a": "x", "b": "y", "c": "y"}]), 3)
0.5

[^1]: Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational and
    Psychological Measurement* 20(1), 37-46.
[^2]: Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School
    for Communication, University of Pennsylvania; Krippendorff, K. (2004). *Content Analysis:
    An Introduction to Its Methodology*, 2nd ed., ch. 11. Sage.
[^3]: Light, R. J. (1971). Measures of response agreement for qualitative data: some
    generalizations and alternatives. *Psychological Bulletin* 76(5), 365-377.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

STATE_VERSION = 1


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float:
    """Cohen's kappa of two reviewers from their ``(first's label, second's label)`` on shared items.

    ``nan`` when there is no pair or both used one and the same label throughout.

    >>> cohen_kappa([("a", "a"), ("b", "b"), ("a", "b"), ("b", "a")])
    0.0
    >>> cohen_kappa([("a", "a"), ("b", "b")])
    1.0
    """
    n = len(pairs)
    agreed = sum(first == second for first, second in pairs)
    first_counts = Counter(first for first, _ in pairs)
    second_counts = Counter(second for _, second in pairs)
    # In counts: p_o = agreed / n and p_e = chance / n**2, so kappa = (n * agreed - chance) / (n**2 - chance).
    chance = sum(count * second_counts.get(label, 0) for label, count in first_counts.items())
    if n == 0 or chance == n * n:
        return math.nan
    return (n * agreed - chance) / (n * n - chance)


def krippendorff_alpha(items: Iterable[Mapping[str, str]]) -> float:
    """Krippendorff's alpha (nominal) over items answered by any reviewers, ``reviewer -> label``.

    ``nan`` when no item has two answers or a single label is used throughout.

    >>> krippendorff_alpha([{"a": "x", "b": "x"}, {"a": "y", "b": "y"}])
    1.0
    """
    coincidences: Counter[tuple[str, str]] = Counter()
    for item in items:
        values = Counter(item.values())
        pairable = sum(values.values())
        if pairable < 2:
            continue
        for first, first_count in values.items():
            for second, second_count in values.items():
                ordered_pairs = first_count * (second_count - (first == second))
                if ordered_pairs:
                    coincidences[first, second] += ordered_pairs / (pairable - 1)
    n = sum(coincidences.values())
    marginals: Counter[str] = Counter()
    for (first, _), count in coincidences.items():
        marginals[first] += count
    observed_disagreement = n - sum(count for (first, second), count in coincidences.items() if first == second)
    expected_disagreement = n * n - sum(count * count for count in marginals.values())
    if n == 0 or expected_disagreement <= 1e-12 * max(n * n, 1.0):
        return math.nan
    return 1.0 - (n - 1) * observed_disagreement / expected_disagreement


@dataclass(frozen=True)
class AgreementSummary:
    """Agreement over the tracker's window (``nan`` where undefined)."""

    kappa: float
    alpha: float
    pairwise_kappa: dict[tuple[str, str], float] = field(default_factory=dict)
    consensus_agreement: dict[str, float] = field(default_factory=dict)
    items: int = 0


class AgreementTracker:
    """Agreement among reviewers over a window of recent overlap items (bounded memory).

    Parameters
    ----------
    window
        How many recent items with two or more answers are kept.
    min_pair_items
        A pair of reviewers enters the mean kappa once they share this many
        items in the window (fewer give a kappa too noisy to average).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(5)
    >>> labels = ["cat", "dog", "fox"]
    >>> tracker = AgreementTracker(window=2000)
    >>> for _ in range(2000):
    ...     truth = rng.choice(labels)
    ...     answers = {name: truth if rng.random() >= error else rng.choice([l for l in labels if l != truth])
    ...                for name, error in [("ana", 0.1), ("ben", 0.2)]}
    ...     tracker.add_item(answers, consensus=truth)
    >>> round(tracker.kappa(), 3)  # expected (0.73 - 1/3) / (1 - 1/3) = 0.595, standard error 0.021
    0.62
    >>> round(tracker.alpha(), 3)  # with two reviewers and no missing answers, alpha ~ kappa
    0.62
    >>> {name: round(share, 3) for name, share in tracker.consensus_agreement().items()}
    {'ana': 0.907, 'ben': 0.804}
    """

    def __init__(self, window: int = 500, min_pair_items: int = 10) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self.window = window
        self.min_pair_items = min_pair_items
        self._reset()

    def _reset(self) -> None:
        self._items: deque[tuple[dict[str, str], str | None]] = deque(maxlen=self.window)
        self._summary: AgreementSummary | None = None

    def add_item(self, answers: Mapping[str, str], consensus: str | None) -> None:
        """A finished item: its answers and its consolidated label (items with one answer are ignored)."""
        if len(answers) < 2:
            return
        self._items.append((dict(answers), consensus))
        self._summary = None

    def summary(self) -> AgreementSummary:
        """Everything at once, computed from the window (cached until the next item)."""
        if self._summary is None:
            self._summary = self._summarize()
        return self._summary

    def kappa(self) -> float:
        """Mean Cohen's kappa over reviewer pairs sharing at least ``min_pair_items`` items."""
        return self.summary().kappa

    def alpha(self) -> float:
        """Krippendorff's alpha (nominal) over the window."""
        return self.summary().alpha

    def pairwise_kappa(self) -> dict[tuple[str, str], float]:
        """Cohen's kappa of each reviewer pair (names sorted) sharing at least ``min_pair_items`` items."""
        return dict(self.summary().pairwise_kappa)

    def consensus_agreement(self) -> dict[str, float]:
        """Each reviewer's share of answers equal to the consolidated label (items without one are left out)."""
        return dict(self.summary().consensus_agreement)

    def __len__(self) -> int:
        return len(self._items)

    def _summarize(self) -> AgreementSummary:
        shared: dict[tuple[str, str], list[tuple[str, str]]] = {}
        agreed: Counter[str] = Counter()
        answered: Counter[str] = Counter()
        for answers, consensus in self._items:
            for first, second in combinations(sorted(answers), 2):
                shared.setdefault((first, second), []).append((answers[first], answers[second]))
            if consensus is not None:
                for reviewer, label in answers.items():
                    answered[reviewer] += 1
                    agreed[reviewer] += label == consensus
        pairwise = {
            pair: cohen_kappa(pairs) for pair, pairs in sorted(shared.items()) if len(pairs) >= self.min_pair_items
        }
        defined = [value for value in pairwise.values() if not math.isnan(value)]
        return AgreementSummary(
            kappa=sum(defined) / len(defined) if defined else math.nan,
            alpha=krippendorff_alpha(answers for answers, _ in self._items),
            pairwise_kappa=pairwise,
            consensus_agreement={reviewer: agreed[reviewer] / answered[reviewer] for reviewer in sorted(answered)},
            items=len(self._items),
        )

    def state(self) -> dict[str, Any]:
        """The window, as plain JSON-able data (answers keep the order they were given)."""
        return {
            "version": STATE_VERSION,
            "items": [{"answers": dict(answers), "consensus": consensus} for answers, consensus in self._items],
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace the window with ``state`` (from :meth:`state`; a larger window keeps its newest items)."""
        version = state.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"agreement state version {version} is not supported (this code reads {STATE_VERSION})")
        self._reset()
        for entry in state.get("items", []):
            consensus = entry.get("consensus")
            self.add_item(
                {str(reviewer): str(label) for reviewer, label in entry["answers"].items()},
                None if consensus is None else str(consensus),
            )
