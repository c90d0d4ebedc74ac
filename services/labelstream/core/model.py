"""The online model: a river classifier built from settings, with string labels.

Default: ``StandardScaler | OneVsRestClassifier(LogisticRegression)`` (the
scaler leaves TF-IDF text columns as they are: :class:`TextAwareScaler`); also
a Hoeffding adaptive tree, an adaptive random forest (ARF) and Gaussian naive
Bayes. Batches of the default model are predicted in one matrix product
(:mod:`labelstream.core.compiled`); the others one by one.

>>> model = OnlineModel("logistic", seed=1)
>>> for _ in range(20):
...     model.learn_one({"x": 1.0}, "yes")
...     model.learn_one({"x": -1.0}, "no")
>>> proba = model.predict_proba_many([{"x": 2.0}, {"x": -2.0}])
>>> [max(p, key=p.get) for p in proba]
['yes', 'no']
>>> model.n_learned, sorted(model.classes)
(40, ['no', 'yes'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from river import base, compose, forest, linear_model, multiclass, naive_bayes, optim, preprocessing, tree

from labelstream.core.compiled import CompiledLogistic
from labelstream.core.policy.base import Prediction
from labelstream.core.text import TFIDF_PREFIX, passes_unscaled

ModelName = Literal["logistic", "hoeffding_adaptive_tree", "arf", "gaussian_nb"]
MODEL_NAMES: tuple[str, ...] = ("logistic", "hoeffding_adaptive_tree", "arf", "gaussian_nb")

# Below this batch size compiling the weights costs more than it saves.
_MIN_BATCH_FOR_MANY = 16


class TextAwareScaler(preprocessing.StandardScaler):
    """river's StandardScaler, except that TF-IDF columns pass unscaled (:func:`~labelstream.core.text.passes_unscaled`).

    river learns each feature's mean and variance from the records that carry
    it; a word's TF-IDF weight standardized that way says how much more than
    usual the word weighs, no longer that it is there. The featurizer adds text
    columns last, so a record without text is told by its last column alone
    (the numeric path pays one check).
    """

    def learn_one(self, x: dict) -> None:
        super().learn_one(_without_text(x) if x and next(reversed(x)).startswith(TFIDF_PREFIX) else x)

    def transform_one(self, x: dict) -> dict:
        if not x or not next(reversed(x)).startswith(TFIDF_PREFIX):
            return super().transform_one(x)
        scaled = super().transform_one(_without_text(x))
        scaled.update((name, value) for name, value in x.items() if passes_unscaled(name))
        return scaled

    @staticmethod
    def passes(name: str) -> bool:
        """Whether column ``name`` passes unscaled (the compiled path asks)."""
        return passes_unscaled(name)


def _without_text(x: dict) -> dict:
    return {name: value for name, value in x.items() if not passes_unscaled(name)}


def build_estimator(name: ModelName, seed: int = 42, learning_rate: float = 0.05) -> base.Classifier:
    """A fresh river classifier for ``name``."""
    if name == "logistic":
        classifier = multiclass.OneVsRestClassifier(
            linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
        )
        return compose.Pipeline(TextAwareScaler(), classifier)
    if name == "hoeffding_adaptive_tree":
        return tree.HoeffdingAdaptiveTreeClassifier(grace_period=50, seed=seed)
    if name == "arf":
        return forest.ARFClassifier(n_models=10, seed=seed)
    if name == "gaussian_nb":
        return naive_bayes.GaussianNB()
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


class OnlineModel:
    """A river classifier that learns one labeled example at a time."""

    def __init__(self, name: ModelName = "logistic", seed: int = 42, learning_rate: float = 0.05) -> None:
        self.name = name
        self.seed = seed
        self.learning_rate = learning_rate
        self.estimator = build_estimator(name, seed, learning_rate)
        self.classes: set[str] = set()
        self.n_learned = 0
        self._compiled: CompiledLogistic | None = None

    def learn_one(self, x: dict[str, float], label: str) -> None:
        """Learn from one labeled example."""
        self.estimator.learn_one(x, label)
        self.classes.add(label)
        self.n_learned += 1
        self._compiled = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_compiled": None}  # rebuilt on demand, never shipped in a snapshot

    def predict_proba_one(self, x: dict[str, float]) -> dict[str, float]:
        """Class probabilities for one input; empty before anything is learned."""
        if not self.classes:
            return {}
        return self._complete(self.estimator.predict_proba_one(x))

    def predict_proba_many(self, xs: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        """Class probabilities for a batch, in order."""
        if not self.classes or not xs:
            return [{} for _ in xs]
        if self.name == "logistic" and len(xs) >= _MIN_BATCH_FOR_MANY:
            if self._compiled is None:
                self._compiled = CompiledLogistic.from_pipeline(self.estimator)
            rows = self._compiled.predict_proba_many(xs)
            return rows if len(self._compiled.classes) == len(self.classes) else [self._complete(r) for r in rows]
        return [self.predict_proba_one(x) for x in xs]

    def predict_many(self, xs: Sequence[dict[str, float]]) -> list[Prediction]:
        """Predictions for a batch, in order: ``Prediction.from_probabilities`` of :meth:`predict_proba_many`
        (the compiled model takes the arg-max of the whole batch in NumPy)."""
        if self.name == "logistic" and self.classes and len(xs) >= _MIN_BATCH_FOR_MANY:
            if self._compiled is None:
                self._compiled = CompiledLogistic.from_pipeline(self.estimator)
            if len(self._compiled.classes) == len(self.classes):
                return self._compiled.predict_many(xs)
        return [Prediction.from_probabilities(p) for p in self.predict_proba_many(xs)]

    def _complete(self, proba: dict) -> dict[str, float]:
        """Every known class present, labels as strings, values clipped into [0, 1]."""
        out = {str(label): min(max(float(p), 0.0), 1.0) for label, p in proba.items()}
        for label in self.classes:
            out.setdefault(label, 0.0)
        return out
