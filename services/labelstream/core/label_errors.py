"""Label-error detection on human answers: online confident learning.

A reviewer's answer that a confident model contradicts is more often wrong
than an answer picked at random. Confident learning [^1] turns that into a
rule with no tuning of its own: for each class ``j`` it computes the
**per-class threshold** ``t_j``, the model's average self-confidence on the
examples labeled ``j``,

    t_j = mean of p(j | x) over the answers whose label is j,

and counts an example labeled ``i`` in the *confident joint* at ``(i, j*)``,
where ``j*`` is the most probable class among those whose probability
reaches their own threshold (``p(j | x) >= t_j``). An example off the
diagonal (``j* != i``) is a label issue (``filter_by="confident_learning"``
in cleanlab). The threshold is per class because models are not equally
confident on every class: a rare class's probabilities run lower, and a
single cut-off would flag every answer of the confident class and none of
the shy one.

On a stream, :class:`LabelErrorDetector` keeps ``t_j`` as a running mean
over the latest ``window`` answers of each class (bounded memory; the model
changes, so old confidences age out) and judges each answer **before** the
model learns it, with the probabilities of a model that has not seen it
(confident learning needs out-of-sample probabilities). Two guards keep a
young model from flagging: no class counts before it has ``min_answers``
answers, and the model's probability of ``j*`` must also reach
``min_confidence`` (a confident model, not merely one above its average).
An answer whose label the model does not know yet (a new class) is never
flagged.

What the service does with a flag (``docs/label-errors.md``): the answer is
not learned yet; the record goes to a second reviewer (reason
``disagreement``), and the consolidated label of both answers (a third on a
disagreement) is what the model learns. :meth:`LabelErrorDetector.resolve`
counts the outcome: **confirmed** (the consolidated label is the first
answer) or **overturned**.

>>> detector = LabelErrorDetector(min_confidence=0.8, min_answers=3)
>>> for _ in range(3):
...     detector.learn_one({"cat": 0.9, "dog": 0.1}, "cat")
...     detector.learn_one({"cat": 0.2, "dog": 0.8}, "dog")
>>> detector.thresholds()
{'cat': 0.9, 'dog': 0.8}
>>> flag = detector.check({"cat": 0.95, "dog": 0.05}, "dog")   # a confident "cat" against the answer "dog"
>>> flag.suggested, flag.confidence
('cat', 0.95)
>>> detector.learn_one({"cat": 0.95, "dog": 0.05}, "dog", flagged=True)
>>> detector.check({"cat": 0.85, "dog": 0.15}, "dog") is None   # 0.85 is below cat's own threshold (0.9)
True
>>> detector.check({"cat": 0.95, "dog": 0.05}, "cat") is None   # agrees
True
>>> detector.resolve(flag, "cat"), detector.counts()
('overturned', {'checked': 7, 'flagged': 1, 'confirmed': 0, 'overturned': 1})

[^1]: C. G. Northcutt, L. Jiang, I. L. Chuang. Confident Learning: Estimating
    Uncertainty in Dataset Labels. *Journal of Artificial Intelligence
    Research* 70 (2021), 1373–1411, section 3.1 (the per-class threshold,
    eq. 2, and the confident joint, eq. 1). cleanlab implements it in
    ``cleanlab.filter.find_label_issues``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OUTCOMES = ("confirmed", "overturned")


@dataclass(frozen=True, slots=True)
class Flag:
    """A flagged answer: its label, the class the model is confident in, and that confidence."""

    label: str
    suggested: str
    confidence: float
    threshold: float


class LabelErrorDetector:
    """Flags answers that a confident model contradicts (online confident learning, see the module docstring).

    Parameters
    ----------
    min_confidence
        The model's probability of the class it suggests must reach this too.
    min_answers
        Answers of a class before its threshold is trusted.
    window
        Answers of each class the running threshold averages over (then it
        moves as an exponential average of that span).
    """

    def __init__(self, min_confidence: float = 0.8, min_answers: int = 30, window: int = 1000) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        if min_answers < 1 or window < 1:
            raise ValueError("min_answers and window must be at least 1")
        self.min_confidence = min_confidence
        self.min_answers = min_answers
        self.window = window
        self._mean: dict[str, float] = {}
        self._n: dict[str, int] = {}
        self._counts = {"checked": 0, "flagged": 0, "confirmed": 0, "overturned": 0}

    def thresholds(self) -> dict[str, float]:
        """Per-class thresholds ``t_j`` of the classes with at least ``min_answers`` answers."""
        return {label: round(mean, 12) for label, mean in self._mean.items() if self._n[label] >= self.min_answers}

    def check(self, probabilities: Mapping[str, float], label: str) -> Flag | None:
        """The flag of an answer ``label`` given the model's ``probabilities`` (``None``: not flagged).

        Pure: changes nothing (:meth:`learn_one` then learns the answer and counts it).
        """
        if label not in probabilities:  # a class the model does not know: it cannot contradict it
            return None
        thresholds = self.thresholds()
        above = [(p, j) for j, p in probabilities.items() if j in thresholds and p >= thresholds[j]]
        if not above:
            return None
        confidence, suggested = max(above)
        if suggested == label or confidence < self.min_confidence:
            return None
        return Flag(label, suggested, float(confidence), thresholds[suggested])

    def learn_one(self, probabilities: Mapping[str, float], label: str, flagged: bool = False) -> None:
        """Add an answer's self-confidence ``p(label | x)`` to its class's threshold; count it (and its flag)."""
        self._counts["checked"] += 1
        self._counts["flagged"] += bool(flagged)
        if label not in probabilities:
            return
        n = self._n.get(label, 0) + 1
        self._n[label] = n
        mean = self._mean.get(label, 0.0)
        self._mean[label] = mean + (float(probabilities[label]) - mean) / min(n, self.window)

    def resolve(self, flag: Flag | str, final_label: str) -> str:
        """Count how a flagged answer ended: ``confirmed`` (the second review kept it) or ``overturned``."""
        first = flag.label if isinstance(flag, Flag) else flag
        outcome = "confirmed" if final_label == first else "overturned"
        self._counts[outcome] += 1
        return outcome

    def counts(self) -> dict[str, int]:
        """Answers checked and flagged, and flagged answers confirmed and overturned so far."""
        return dict(self._counts)

    def state(self) -> dict:
        """Plain JSON-able state (the learner ships it with each model version)."""
        return {"mean": dict(self._mean), "n": dict(self._n), "counts": dict(self._counts)}

    def load_state(self, state: Mapping) -> None:
        self._mean = {str(k): float(v) for k, v in state.get("mean", {}).items()}
        self._n = {str(k): int(v) for k, v in state.get("n", {}).items()}
        counts = state.get("counts", {})
        self._counts = {name: int(counts.get(name, 0)) for name in self._counts}
