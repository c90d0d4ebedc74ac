"""The default model as arrays: ``StandardScaler | OneVsRest(LogisticRegression)`` in one matrix product.

river predicts one record at a time in Python (~5 us for 20 features and two
classes), and its ``predict_proba_many`` goes through a DataFrame. A labeler
never learns, so between two model versions the weights are constants:
compiled once per version, a micro-batch costs one matrix product. Results
equal river's ``predict_proba_one`` (a test compares them), including
river's semantics for a feature absent from a record (it contributes
nothing, rather than the scaled value of 0); a NaN or infinite value is
missing the same way (:mod:`labelstream.core.featurizer`).

>>> from labelstream.core.model import OnlineModel
>>> model = OnlineModel("logistic", seed=1)
>>> for _ in range(30):
...     model.learn_one({"x": 1.0, "c=a": 1.0}, "yes"); model.learn_one({"x": -1.0}, "no")
>>> compiled = CompiledLogistic.from_pipeline(model.estimator)
>>> fast = compiled.predict_proba_many([{"x": 2.0}, {"x": -2.0, "c=a": 1.0}])
>>> slow = [model.estimator.predict_proba_one(x) for x in ({"x": 2.0}, {"x": -2.0, "c=a": 1.0})]
>>> all(abs(f[k] - s[k]) < 1e-9 for f, s in zip(fast, slow) for k in s)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from operator import getitem
from typing import Any

import numpy as np
from river import compose

from labelstream.core.compiled_inputs import InputMatrix
from labelstream.core.featurizer import Encoding
from labelstream.core.policy.base import Prediction, RowPrediction

_make_predictions = RowPrediction.make_many


def feature_matrix(index: dict[str, int], xs: Sequence[dict[str, float]]) -> np.ndarray:
    """One row per input, a column per known feature (``index``: name -> column), NaN where absent.

    Rows as Python lists, one array at the end: item assignment into a NumPy
    array costs ~100 ns, into a list ~30 ns (2 us a record for 21 features).
    """
    width, nan = len(index), math.nan
    rows = []
    for x in xs:
        row = [nan] * width
        for name, value in x.items():
            col = index.get(name)
            if col is not None:
                row[col] = value
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(rows), width)


class CompiledLogistic:
    """Scaler means and inverse deviations, one weight row and intercept per class."""

    def __init__(
        self, features: list[str], means: np.ndarray, inverse_std: np.ndarray, classes: list, weights: np.ndarray, intercepts: np.ndarray
    ) -> None:
        self.index = {name: i for i, name in enumerate(features)}
        self.means = means
        self.inverse_std = inverse_std
        self.classes = classes
        self.weights = weights
        self.intercepts = intercepts
        self._inputs: InputMatrix | None = None  # built on first use: it caches categorical values' columns

    @classmethod
    def from_pipeline(cls, pipeline: compose.Pipeline) -> CompiledLogistic:
        scaler, ovr = list(pipeline.steps.values())
        classes = list(ovr.classifiers)
        names = set(scaler.means)
        for classifier in ovr.classifiers.values():
            names.update(classifier._weights)
        features = sorted(names, key=str)
        variances = np.array([scaler.vars.get(f, 0.0) for f in features], dtype=float)
        inverse_std = np.divide(1.0, np.sqrt(variances), out=np.zeros_like(variances), where=variances > 0)
        means = np.array([scaler.means.get(f, 0.0) for f in features], dtype=float)
        passes = getattr(scaler, "passes", None)  # columns the scaler leaves as they are (TF-IDF)
        if passes is not None:
            unscaled = [i for i, f in enumerate(features) if passes(f)]
            means[unscaled], inverse_std[unscaled] = 0.0, 1.0
        weights = np.array([[c._weights.get(f, 0.0) for f in features] for c in ovr.classifiers.values()], dtype=float)
        intercepts = np.array([c.intercept for c in ovr.classifiers.values()], dtype=float)
        return cls(features, means, inverse_std, classes, weights.reshape(len(classes), len(features)), intercepts)

    def predict_proba_many(self, xs: Sequence[dict[str, float]]) -> list[dict]:
        """Class probabilities per input, as river's one-vs-rest normalizes them."""
        classes = self.classes
        return [dict(zip(classes, row, strict=True)) for row in self.probabilities(xs).tolist()]

    def predict_many(self, xs: Sequence[dict[str, float]]) -> list[Prediction]:
        """One :class:`Prediction` per input: equal to ``Prediction.from_probabilities`` of
        :meth:`predict_proba_many` (the arg-max is NumPy's, which also takes the first of equal
        maxima in class order), 1.5 us a record less."""
        if not self.classes:
            return [Prediction({}, None, 0.0) for _ in xs]
        return self.predictions(self.probabilities(xs))

    def predict_features(
        self, batch: Sequence[Mapping[str, Any]], encoding: Encoding = "one_hot", hash_buckets: int = 1024
    ) -> list[Prediction]:
        """:meth:`predict_many` of the featurizer's inputs of ``batch`` (feature mappings), its matrix built
        column by column (:class:`~labelstream.core.compiled_inputs.InputMatrix`): the same predictions."""
        if not self.classes:
            return [Prediction({}, None, 0.0) for _ in batch]
        return self.predictions(self.probabilities_of(self.inputs(encoding, hash_buckets).build(batch)))

    def inputs(self, encoding: Encoding = "one_hot", hash_buckets: int = 1024) -> InputMatrix:
        """The :class:`~labelstream.core.compiled_inputs.InputMatrix` of this model and encoding (kept: it caches)."""
        inputs = self._inputs
        if inputs is None or inputs.encoding != encoding or inputs.hash_buckets != hash_buckets:
            inputs = self._inputs = InputMatrix(self.index, encoding, hash_buckets)
        return inputs

    def predictions(self, probabilities: np.ndarray) -> list[Prediction]:
        """A :class:`Prediction` a row of class probabilities (the first of equal maxima in class order)."""
        classes, rows = tuple(self.classes), probabilities.tolist()
        best = probabilities.argmax(axis=1).tolist()
        # made a field at a time by maps in C: each row's best class and probability; its dict of class ->
        # probability made when read
        return _make_predictions(classes, rows, map(classes.__getitem__, best), map(getitem, rows, best))

    def probabilities(self, xs: Sequence[dict[str, float]]) -> np.ndarray:
        """Class probabilities, one row per input, a column per class (in ``classes`` order)."""
        return self.probabilities_of(feature_matrix(self.index, xs))

    def probabilities_of(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`probabilities` of a :func:`feature_matrix` (NaN where an input is absent)."""
        with np.errstate(invalid="ignore"):  # an infinity times a zero inverse deviation
            scaled = (matrix - self.means) * self.inverse_std
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)  # absent, NaN, infinite: missing
        logits = scaled @ self.weights.T + self.intercepts
        # river's sigmoid: exactly 0 below -30 and 1 above 30
        with np.errstate(over="ignore"):
            positive = np.where(logits < -30, 0.0, np.where(logits > 30, 1.0, 1.0 / (1.0 + np.exp(-logits))))
        totals = positive.sum(axis=1, keepdims=True)
        uniform = 1.0 / max(len(self.classes), 1)
        return np.divide(positive, totals, out=np.full_like(positive, uniform), where=totals > 0)
