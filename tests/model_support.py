"""Model stand-ins for tests of what a policy or the learner does with model versions."""

from __future__ import annotations

from labelstream.core.policy.base import Prediction


class FixedModel:
    """A model stand-in that predicts one label at 0.99 for every input (two classes, "a" and "b")."""

    def __init__(self, label: str) -> None:
        self.label = label

    def predict_many(self, xs):
        other = "b" if self.label == "a" else "a"
        return [Prediction.from_probabilities({self.label: 0.99, other: 0.01}) for _ in xs]
