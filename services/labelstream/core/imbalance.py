"""Class imbalance: balanced learning weights, a review share for rare classes, a monitor of the class mix.

**Balanced weights.** With classes of very different sizes an online model
learns the common ones and scores the rare ones low, so the rare ones rarely
reach a threshold. :class:`ClassWeights` weighs each human answer by the
online inverse frequency of its class, ``n / (k * n_c)`` (``n`` answers, ``k``
classes, ``n_c`` of the class — scikit-learn's ``class_weight="balanced"``,
counted as the answers stream in), capped at ``max_weight`` so the first
answer of a new class does not swamp the model.

**Rare-class reserve.** :class:`RareClassReserve` holds a share of the review
budget (``imbalance.rare_budget_share`` of it: the policy's own budget shrinks
by as much) for records predicted as a class whose share of the recent answers
is below ``rare_below``: such a record the policy would leave waiting
(``deferred``) is reviewed with reason ``rare_class`` while the reserve has
room. These answers teach the model the rare class; they are not calibration
evidence (the decision's context keeps the policy's outcome).

**Class mix.** :class:`ClassMixMonitor` keeps the last ``window`` auto-labels
and answers and compares their class shares: the total variation distance
(half the sum of absolute differences: 0 same mix, 1 disjoint). Answers are
a biased sample (review picks uncertain records), so a distance is not an
error by itself; a distance that grows is the sign that the auto-labels drift
away from what humans see (a class auto-labeled far more, or never).

>>> weights = ClassWeights(max_weight=5.0)
>>> for label in ["ham"] * 9 + ["spam"]:
...     weights.learn_one(label)
>>> round(weights.weight("ham"), 3), weights.weight("spam"), weights.weight("new")
(0.556, 5.0, 5.0)
>>> mix = ClassMixMonitor(window=100)
>>> for label in ["ham"] * 8 + ["spam"] * 2:
...     mix.observe_auto(label)
>>> for label in ["ham"] * 5 + ["spam"] * 5:
...     mix.observe_answer(label)
>>> round(mix.distance(), 3), mix.shares()["spam"]
(0.3, {'auto': 0.2, 'answered': 0.5})
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelstream.core.budget import ReviewBudget
    from labelstream.core.policy import Decision, Prediction


class ClassWeights:
    """Online inverse class frequency of the human answers, capped: the weight of each class's examples."""

    def __init__(self, max_weight: float = 10.0) -> None:
        if max_weight < 1:
            raise ValueError(f"max_weight must be at least 1, got {max_weight}")
        self.max_weight = max_weight
        self.counts: Counter[str] = Counter()

    def learn_one(self, label: str) -> None:
        """Count one answer of ``label``."""
        self.counts[label] += 1

    def weight(self, label: str) -> float:
        """``n / (k * n_label)``, capped (a class never seen: the cap; nothing seen yet: 1)."""
        total = sum(self.counts.values())
        if not total:
            return 1.0
        count = self.counts.get(label, 0)
        if not count:
            return self.max_weight
        return min(total / (len(self.counts) * count), self.max_weight)

    def state(self) -> dict[str, Any]:
        return {"counts": dict(self.counts)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.counts = Counter({str(k): int(v) for k, v in state.get("counts", {}).items()})


class ClassMixMonitor:
    """Class shares of the last ``window`` auto-labels against the last ``window`` answers."""

    def __init__(self, window: int = 1000) -> None:
        self.window = window
        self._auto: deque[str] = deque(maxlen=window)
        self._answered: deque[str] = deque(maxlen=window)

    def observe_auto(self, label: str) -> None:
        self._auto.append(label)

    def observe_answer(self, label: str) -> None:
        self._answered.append(label)

    def answers(self) -> list[str]:
        """The answers' labels in the window, oldest first (shipped with model versions to the labelers)."""
        return list(self._answered)

    def load_answers(self, labels: list[str]) -> None:
        """Adopt the learner's window of answers (a labeler sees auto-labels, the learner the answers)."""
        self._answered = deque((str(label) for label in labels), maxlen=self.window)

    def shares(self) -> dict[str, dict[str, float]]:
        """Class -> its share among the auto-labels and among the answers (windows)."""
        auto, answered = Counter(self._auto), Counter(self._answered)
        n_auto, n_answered = max(len(self._auto), 1), max(len(self._answered), 1)
        return {label: {"auto": auto[label] / n_auto, "answered": answered[label] / n_answered}
                for label in sorted(set(auto) | set(answered))}

    def distance(self) -> float | None:
        """Total variation distance between the two mixes (``None`` until both have a label)."""
        if not self._auto or not self._answered:
            return None
        return 0.5 * sum(abs(s["auto"] - s["answered"]) for s in self.shares().values())


class RareClassReserve:
    """Reviews, from a budget of their own, of records predicted as a rare class that the policy would defer.

    >>> from labelstream.core.budget import ReviewBudget
    >>> from labelstream.core.policy import Decision, Prediction
    >>> reserve = RareClassReserve(ReviewBudget(share=0.5, reserve=0.0), rare_below=0.1)
    >>> waiting = Decision("deferred", "over_budget", context={"outcome": "deferred"})
    >>> rare = Prediction.from_probabilities({"fraud": 0.6, "ok": 0.4})
    >>> answered = {"ok": {"answered": 0.97}, "fraud": {"answered": 0.03}}
    >>> reserve.budget.count_record(); reserve.budget.count_record()
    >>> decision = reserve.review(rare, waiting, answered)
    >>> decision.outcome, decision.reason, decision.context["outcome"]
    ('review', 'rare_class', 'deferred')
    >>> reserve.review(Prediction.from_probabilities({"ok": 0.6, "fraud": 0.4}), waiting, answered) is None
    True
    """

    def __init__(self, budget: ReviewBudget, rare_below: float = 0.1) -> None:
        self.budget = budget
        self.rare_below = rare_below
        self.reviewed = 0

    def review(
        self, prediction: Prediction, decision: Decision, answered: Mapping[str, Mapping[str, float]]
    ) -> Decision | None:
        """A ``rare_class`` review instead of ``decision`` (a deferral), or ``None`` to keep it.

        ``answered``: class -> ``{"answered": share}`` (:meth:`ClassMixMonitor.shares`); a class
        never answered counts as rare."""
        from labelstream.core.policy import Decision

        if decision.outcome != "deferred" or prediction.label is None:
            return None
        if answered.get(prediction.label, {}).get("answered", 0.0) >= self.rare_below:
            return None
        admission = self.budget.admission_rate()
        if not self.budget.try_spend():
            return None
        self.reviewed += 1
        return Decision("review", "rare_class", admission, decision.priority, decision.context)
