"""The online model: a river classifier built from settings, with string labels.

Default: ``StandardScaler | OneVsRestClassifier(LogisticRegression)`` (the
scaler leaves categorical indicators and TF-IDF text columns as they are:
:class:`TextAwareScaler`); also
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

from river import base, compose, linear_model, multiclass, optim, preprocessing

from labelstream.core.compiled import CompiledLogistic
from labelstream.core.policy.base import Prediction

ModelName = Literal["logistic", "hoeffding_adaptive_tree", "arf", "gaussian_nb"]
MODEL_NAMES: tuple[str, ...] = ("logistic", "hoeffding_adaptive_tree", "arf", "gaussian_nb")

# Below this batch size compiling the weights costs more than it saves.
_MIN_BATCH_FOR_MANY = 16


class TextAwareScaler(preprocessing.StandardScaler):
    """river's StandardScaler, except that indicator and TF-IDF columns pass unscaled (:func:`passes_unscaled`).

    river learns each feature's mean and variance from the records that carry
    it. A categorical indicator (``colour=red``, hashed ``colour#7``) is 1.0 in
    every record that carries it: mean 1, variance 0, so river scales it to 0
    and the model never sees the category (the bug this class fixes). A word's
    TF-IDF weight standardized that way says how much more than usual the word
    weighs, no longer that it is there. Both pass as they are; numbers are
    standardized as before.

    >>> scaler = TextAwareScaler()
    >>> for i in range(4):
    ...     scaler.learn_one({"x": float(i), "colour=red": 1.0})
    >>> {name: round(value, 3) for name, value in scaler.transform_one({"x": 3.0, "colour=red": 1.0}).items()}
    {'x': 1.342, 'colour=red': 1.0}
    """

    def learn_one(self, x: dict) -> None:
        super().learn_one(_scaled_part(x) if _has_unscaled(x) else x)

    def transform_one(self, x: dict) -> dict:
        if not _has_unscaled(x):
            return super().transform_one(x)
        scaled = super().transform_one(_scaled_part(x))
        scaled.update((name, value) for name, value in x.items() if passes_unscaled(name))
        return scaled

    @staticmethod
    def passes(name: str) -> bool:
        """Whether column ``name`` passes unscaled (the compiled path asks)."""
        return passes_unscaled(name)


def finite(x: dict[str, float]) -> dict[str, float]:
    """``x`` without its NaN and infinite values: missing, as if absent (the compiled path agrees; see
    :mod:`labelstream.core.featurizer`). One ``sum`` when all are finite.

    >>> finite({"x": float("nan"), "y": float("-inf"), "z": 2.0})
    {'z': 2.0}
    """
    total = sum(x.values())  # a NaN or an infinity anywhere makes the sum NaN or infinite
    if total - total == 0.0:
        return x
    return {name: value for name, value in x.items() if value - value == 0.0}


def passes_unscaled(name: str) -> bool:
    """Whether a model input column bypasses the default model's scaler.

    The featurizer's categorical indicators (one-hot ``name=value``, hashed
    ``name#bucket``) and TF-IDF columns (``text#term``): a column whose name
    holds ``=`` or ``#``. A numeric feature so named passes unscaled too (a
    documented limit: name numeric features without them).
    """
    return "=" in name or "#" in name


def _has_unscaled(x: dict) -> bool:
    return any("=" in name or "#" in name for name in x)


def _scaled_part(x: dict) -> dict:
    return {name: value for name, value in x.items() if not passes_unscaled(name)}


def build_estimator(name: ModelName, seed: int = 42, learning_rate: float = 0.05) -> base.Classifier:
    """A fresh river classifier for ``name``."""
    if name == "logistic":
        classifier = multiclass.OneVsRestClassifier(
            linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
        )
        return compose.Pipeline(TextAwareScaler(), classifier)
    # The other models' river packages are imported when asked for: river.forest and river.tree import
    # river.drift, river.datasets and river.metrics, ~1 s of a labeler's start that the default model never uses.
    if name == "hoeffding_adaptive_tree":
        from river import tree

        return tree.HoeffdingAdaptiveTreeClassifier(grace_period=50, seed=seed)
    if name == "arf":
        from river import forest

        return forest.ARFClassifier(n_models=10, seed=seed)
    if name == "gaussian_nb":
        from river import naive_bayes

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

    def learn_one(self, x: dict[str, float], label: str, weight: float = 1.0, answer: bool = True) -> None:
        """Learn from one labeled example.

        ``weight``: the example's sample weight (balanced class weights, self-training); Gaussian
        naive Bayes takes none and ignores it. ``answer=False``: not a human answer (self-training):
        not counted in :attr:`n_learned` (the policy's cold start counts answers), and the scaler
        of the default model does not learn it (the surest records lie far out: learning their
        spread would shrink every scaled input, and with it every score).
        """
        x = finite(x)
        if not answer and isinstance(self.estimator, compose.Pipeline):
            *steps, classifier = self.estimator.steps.values()
            for step in steps:
                x = step.transform_one(x)
            classifier.learn_one(x, label, w=weight)
        elif weight == 1.0 or self.name == "gaussian_nb":
            self.estimator.learn_one(x, label)
        else:
            self.estimator.learn_one(x, label, w=weight)
        self.classes.add(label)
        if answer:
            self.n_learned += 1
        self._compiled = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_compiled": None}  # rebuilt on demand, never shipped in a snapshot

    def predict_proba_one(self, x: dict[str, float]) -> dict[str, float]:
        """Class probabilities for one input; empty before anything is learned."""
        if not self.classes:
            return {}
        return self._complete(self.estimator.predict_proba_one(finite(x)))

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
        compiled = self.compiled_for(len(xs))
        if compiled is not None:
            return compiled.predict_many(xs)
        return [Prediction.from_probabilities(p) for p in self.predict_proba_many(xs)]

    def compiled_for(self, batch_size: int) -> CompiledLogistic | None:
        """The compiled model whose :meth:`~CompiledLogistic.predict_many` equals :meth:`predict_many` on a batch
        of this size, or ``None`` (another model, nothing learned, a small batch, a class it has no weights for)."""
        if self.name != "logistic" or not self.classes or batch_size < _MIN_BATCH_FOR_MANY:
            return None
        if self._compiled is None:
            self._compiled = CompiledLogistic.from_pipeline(self.estimator)
        return self._compiled if len(self._compiled.classes) == len(self.classes) else None

    def _complete(self, proba: dict) -> dict[str, float]:
        """Every known class present, labels as strings, values clipped into [0, 1]."""
        out = {str(label): min(max(float(p), 0.0), 1.0) for label, p in proba.items()}
        for label in self.classes:
            out.setdefault(label, 0.0)
        return out
