"""The online label model: how far to trust each labeling function, learned from human answers.

**Model.** A generative model in the family of Dawid and Skene [^1] and of
Snorkel's label model [^2]: given the true class ``y``, LFs vote independently,
LF ``j`` voting ``v`` with probability ``P_j(v | y)`` (a row of its confusion
matrix; abstentions carry no information and are left out). The record's
class distribution combines the online model's probabilities ``p(y | x)``
with the votes (a product of experts, in log space)::

    log P(y | x, votes) = w * log p(y | x) + sum over voting LFs j of log P_j(v_j | y) + const

Before the model has learned anything, ``p(y | x)`` is the class prior of
the answers (Laplace-smoothed). When no LF votes, the distribution is the
model's, unchanged.

**Pool weights.** Multiplying likelihoods assumes that the sources are
independent given the class. LFs written over the same signals as the
model's features are not: their votes repeat what the model already knows,
and the plain product is overconfident exactly where it should not be.
So the pool is weighted (a logarithmic opinion pool [^3])::

    log P(y | x, votes) = w_m * log p(y | x) + sum over voting LFs j of w_j * log P_j(v_j | y) + const

and the weights are learned online from the same answers, by a step of
gradient descent on the log-loss of each answer before it is counted
(prequential: the record is scored as it was routed, with the model as it
was). Weights start at 1 (the naive product) and stay in ``[0, max_weight]``:
an LF whose vote adds nothing once the model is known drifts towards 0, an
LF that adds information where the model is weak keeps its weight.
``learn_weights=False`` keeps the plain product with ``w_m = model_weight``.

**Learning, online.** Snorkel fits its label model in batch, without labels,
by matrix completion; here human answers stream back, so each answer to a
record is direct evidence: the LF's vote on it and the true label are added
to that LF's confusion counts (an exact, incremental update; no EM). The
counts are shrunk towards a prior in two levels, so the estimate is
class-conditional where evidence allows and falls back where it does not:

- the LF's overall accuracy ``a_j`` has a Beta prior of mean
  ``prior_accuracy`` and strength ``prior_strength`` pseudo-votes;
- its row for class ``c`` has a Dirichlet prior of strength
  ``class_strength`` centred on ``a_j`` for ``v = c`` and ``(1 - a_j) / (K - 1)``
  for each other of the ``K`` classes.

A new LF is thus trusted at ``prior_accuracy``; after some answers at its
measured accuracy; after many answers of a class, at its accuracy on that
class (an LF that only fires correctly on one class is told apart from one
that is right on both). Rules of thumb age as the stream drifts: counts
decay, an answer weighing half as much ``halflife`` answers later.

**What it does not claim.** Votes are assumed conditionally independent
given the class (correlated LFs are over-counted, as in naive Bayes), and
answers come from reviewed records, which the routing chose: the learned
accuracies describe the reviewed records. Neither affects the precision
contract, which calibrates the combined score on its own evidence, like any
other score.

>>> model = OnlineLabelModel(["kw", "rule"], prior_accuracy=0.7)
>>> for _ in range(40):
...     model.learn_one(("spam", None), "spam")
...     model.learn_one(("spam", "ham"), "ham")
>>> {name: round(a, 2) for name, a in model.accuracy().items()}
{'kw': 0.51, 'rule': 0.97}
>>> combined = model.combine_one({"spam": 0.5, "ham": 0.5}, (None, "ham"))
>>> max(combined, key=combined.get), round(combined["ham"], 3)
('ham', 0.967)
>>> model.combine_one({"spam": 0.6, "ham": 0.4}, (None, None))  # no vote: the model's own
{'spam': 0.6, 'ham': 0.4}

[^1]: Dawid, A. P. and Skene, A. M. (1979). Maximum likelihood estimation of observer
    error-rates using the EM algorithm. Applied Statistics 28(1), 20-28.
[^2]: Ratner, A., Bach, S., Ehrenberg, H., Fries, J., Wu, S. and Ré, C. (2017). Snorkel:
    rapid training data creation with weak supervision. VLDB 11(3), 269-282.
[^3]: Genest, C. and Zidek, J. V. (1986). Combining probability distributions: a critique and an
    annotated bibliography. Statistical Science 1(1), 114-135.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

Votes = Sequence[str | None]


class VoteCombiner(ABC):
    """Combines LF votes with the model's probabilities; may learn from answers."""

    name = "combiner"

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    @abstractmethod
    def combine_one(self, probabilities: Mapping[str, float], votes: Votes) -> dict[str, float]:
        """One record's class distribution."""

    def combine_many(self, probabilities: Sequence[Mapping[str, float]], votes: Sequence[Votes]) -> list[dict[str, float]]:
        """A batch's class distributions; records without a vote keep the model's (the same dict)."""
        return [
            p if not any(v is not None for v in vs) else self.combine_one(p, vs)  # type: ignore[misc]
            for p, vs in zip(probabilities, votes, strict=True)
        ]

    def learn_one(
        self, votes: Votes, label: str, weight: float = 1.0, probabilities: Mapping[str, float] | None = None
    ) -> None:
        """Learn from one answered record; ``probabilities``: the model's for it, before it learned the answer
        (default: nothing to learn)."""

    def accuracy(self) -> dict[str, float | None]:
        """Learned accuracy per LF (``None`` when the combiner learns none)."""
        return {name: None for name in self.names}

    def weights(self) -> dict[str, float | None]:
        """Weight of each LF's vote in the combination (``None`` when the combiner has none)."""
        return {name: None for name in self.names}

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Adopt learned state (default: nothing)."""


class MajorityVote(VoteCombiner):
    """Plain majority vote of the LFs (Snorkel's ``MajorityLabelVoter``): the model only where all abstain.

    The distribution is the share of votes per label, so a record with one vote
    scores 1.0; ties keep the label voted first.

    >>> MajorityVote(["a", "b", "c"]).combine_one({"x": 0.9, "y": 0.1}, ("y", "x", "y"))
    {'y': 0.6666666666666666, 'x': 0.3333333333333333}
    """

    name = "majority"

    def combine_one(self, probabilities: Mapping[str, float], votes: Votes) -> dict[str, float]:
        counts: dict[str, int] = {}
        for vote in votes:
            if vote is not None:
                counts[vote] = counts.get(vote, 0) + 1
        total = sum(counts.values())
        if not total:
            return dict(probabilities)
        return {label: n / total for label, n in counts.items()}


class OnlineLabelModel(VoteCombiner):
    """Class-conditional LF accuracies learned online, combined with the model's probabilities.

    Parameters
    ----------
    names
        The LFs, in vote order.
    prior_accuracy
        Accuracy assumed of an LF before any answer (the Beta prior's mean).
    prior_strength
        Weight of that assumption, in votes.
    class_strength
        Weight, in votes, of an LF's overall accuracy in its accuracy on one class.
    model_weight
        Exponent of the model's probabilities in the product (0 ignores the model).
    min_probability
        Floor of a model probability (a saturated 0 would veto every vote).
    halflife
        Answers after which an answer weighs half (``None``: never forget).
    learn_weights
        Learn the pool weights from the answers (else the plain product).
    learning_rate, max_weight
        Step size of the weights' gradient descent, and their upper bound.
    """

    name = "label_model"

    def __init__(
        self,
        names: Sequence[str],
        prior_accuracy: float = 0.7,
        prior_strength: float = 5.0,
        class_strength: float = 10.0,
        model_weight: float = 1.0,
        min_probability: float = 1e-4,
        halflife: float | None = 1000.0,
        learn_weights: bool = True,
        learning_rate: float = 0.05,
        max_weight: float = 3.0,
    ) -> None:
        super().__init__(names)
        self.prior_accuracy = prior_accuracy
        self.prior_strength = prior_strength
        self.class_strength = class_strength
        self.model_weight = model_weight
        self.min_probability = min_probability
        self.halflife = halflife
        self._decay = 1.0 if halflife is None else 0.5 ** (1.0 / halflife)
        self.learn_weights = learn_weights
        self.learning_rate = learning_rate
        self.max_weight = max_weight
        self._reset()

    def _reset(self) -> None:
        # per LF: true class -> vote -> weight (abstentions not counted)
        self._confusion: list[dict[str, dict[str, float]]] = [defaultdict(dict) for _ in self.names]
        self._classes: dict[str, float] = {}  # true class -> weight of answers
        self._vote_labels: set[str] = set()
        self._weights = [1.0] * len(self.names)
        self._model_weight = self.model_weight
        self._log_likelihoods: dict[tuple[str, ...], dict[tuple[int, str], list[float]]] = {}

    # -- learning ------------------------------------------------------------------------------

    def learn_one(
        self, votes: Votes, label: str, weight: float = 1.0, probabilities: Mapping[str, float] | None = None
    ) -> None:
        if self.learn_weights and probabilities is not None:
            self._step(votes, label, probabilities, weight)
        self._log_likelihoods.clear()
        if self._decay < 1.0:
            self._forget(self._decay)
        self._classes[label] = self._classes.get(label, 0.0) + weight
        for j, vote in enumerate(votes):
            if vote is None:
                continue
            self._vote_labels.add(vote)
            row = self._confusion[j][label]
            row[vote] = row.get(vote, 0.0) + weight

    def _step(self, votes: Votes, label: str, probabilities: Mapping[str, float], weight: float) -> None:
        """One gradient step on ``-log P(label)``: each weight moves by its source's log-score of the
        true class minus its expectation under the current pool."""
        voting = [(j, v) for j, v in enumerate(votes) if v is not None]
        if not voting:
            return
        classes, sources = self._sources(probabilities, voting)
        if label not in classes:
            return
        pooled = self._pool(sources, [self._model_weight] + [self._weights[j] for j, _ in voting])
        truth = classes.index(label)
        rate, top = self.learning_rate * weight, self.max_weight
        for i, scores in enumerate(sources):
            gradient = scores[truth] - sum(p * s for p, s in zip(pooled, scores, strict=True))
            if i == 0:
                self._model_weight = min(max(self._model_weight + rate * gradient, 0.0), top)
            else:
                j = voting[i - 1][0]
                self._weights[j] = min(max(self._weights[j] + rate * gradient, 0.0), top)

    def _forget(self, factor: float) -> None:
        """Scale every count by ``factor`` (LFs x classes x classes products: small at human scale)."""
        for confusion in self._confusion:
            for row in confusion.values():
                for vote in row:
                    row[vote] *= factor
        for label in self._classes:
            self._classes[label] *= factor

    # -- estimates -----------------------------------------------------------------------------

    def accuracy(self) -> dict[str, float | None]:
        """Posterior mean of each LF's overall accuracy (its share of correct votes, shrunk to the prior)."""
        return {name: self._overall_accuracy(j) for j, name in enumerate(self.names)}

    def class_accuracy(self) -> dict[str, dict[str, float]]:
        """Per LF, per true class seen: the probability that the LF, when it votes, votes that class."""
        k = self._n_classes(())
        return {
            name: {c: self._likelihood(j, c, c, k) for c in sorted(self._classes)} for j, name in enumerate(self.names)
        }

    def weights(self) -> dict[str, float | None]:
        return {name: self._weights[j] for j, name in enumerate(self.names)}

    def model_weight_learned(self) -> float:
        """The model's weight in the pool (``model_weight`` until weights are learned)."""
        return self._model_weight

    def _overall_accuracy(self, j: int) -> float:
        correct = sum(row.get(c, 0.0) for c, row in self._confusion[j].items())
        voted = sum(sum(row.values()) for row in self._confusion[j].values())
        return (correct + self.prior_accuracy * self.prior_strength) / (voted + self.prior_strength)

    def _n_classes(self, extra: Sequence[str]) -> int:
        return max(len(self._classes.keys() | self._vote_labels | set(extra)), 2)

    def _likelihood(self, j: int, true: str, vote: str, k: int, accuracy: float | None = None) -> float:
        """P(LF j votes ``vote`` | class ``true``), given that it votes."""
        a = self._overall_accuracy(j) if accuracy is None else accuracy
        row = self._confusion[j].get(true)
        n = sum(row.values()) if row else 0.0
        count = row.get(vote, 0.0) if row else 0.0
        prior = a if vote == true else (1.0 - a) / (k - 1)
        return (count + self.class_strength * prior) / (n + self.class_strength)

    # -- combining -----------------------------------------------------------------------------

    def combine_one(self, probabilities: Mapping[str, float], votes: Votes) -> dict[str, float]:
        voting = [(j, v) for j, v in enumerate(votes) if v is not None]
        if not voting:
            return dict(probabilities)
        classes, sources = self._sources(probabilities, voting)
        pooled = self._pool(sources, [self._model_weight] + [self._weights[j] for j, _ in voting])
        return dict(zip(classes, pooled, strict=True))

    def _sources(self, probabilities: Mapping[str, float], voting: list[tuple[int, str]]) -> tuple[list[str], list[list[float]]]:
        """The classes, and per source (the model first, then each voting LF) its log-score of each class.

        An LF's log-likelihoods change only when the model learns: they are cached per class list until then.
        """
        classes = list(probabilities) + [c for c in self._classes if c not in probabilities]
        classes += [v for _, v in voting if v not in classes]
        base = self._base(probabilities, classes)
        sources = [[math.log(base[c]) for c in classes]]
        table = self._log_likelihoods.setdefault(tuple(classes), {})
        for j, v in voting:
            row = table.get((j, v))
            if row is None:
                k, accuracy = self._n_classes(classes), self._overall_accuracy(j)
                row = table[(j, v)] = [math.log(self._likelihood(j, c, v, k, accuracy)) for c in classes]
            sources.append(row)
        return classes, sources

    @staticmethod
    def _pool(sources: list[list[float]], weights: list[float]) -> list[float]:
        """Softmax of the weighted sum of the sources' log-scores."""
        scores = [0.0] * len(sources[0])
        for w, source in zip(weights, sources, strict=True):
            for c, value in enumerate(source):
                scores[c] += w * value
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]

    def _base(self, probabilities: Mapping[str, float], classes: Sequence[str]) -> dict[str, float]:
        """The model's distribution over ``classes`` (floored), or the answers' class prior before it knows any."""
        if probabilities:
            floor = self.min_probability
            return {c: max(float(probabilities.get(c, 0.0)), floor) for c in classes}
        total = sum(self._classes.values())
        return {c: (self._classes.get(c, 0.0) + 1.0) / (total + len(classes)) for c in classes}

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Plain JSON-able counts (LFs by name, so a changed LF list keeps what still applies)."""
        return {
            "confusion": {name: {c: dict(row) for c, row in self._confusion[j].items()} for j, name in enumerate(self.names)},
            "classes": dict(self._classes),
            "vote_labels": sorted(self._vote_labels),
            "weights": {name: self._weights[j] for j, name in enumerate(self.names)},
            "model_weight": self._model_weight,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self._reset()  # also empties the log-likelihood cache
        if not state:
            return
        confusion = state.get("confusion", {})
        for j, name in enumerate(self.names):
            for true, row in confusion.get(name, {}).items():
                self._confusion[j][true] = {str(v): float(w) for v, w in row.items()}
        self._classes = {str(c): float(w) for c, w in state.get("classes", {}).items()}
        self._vote_labels = set(state.get("vote_labels", []))
        weights = state.get("weights", {})
        self._weights = [float(weights.get(name, 1.0)) for name in self.names]
        self._model_weight = float(state.get("model_weight", self.model_weight))
