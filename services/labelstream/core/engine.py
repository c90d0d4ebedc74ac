"""The labeling engine: featurize -> predict -> decide, and learn from human answers.

The same engine runs inside the labeler and learner services and in the
in-process simulator; it knows nothing of Kafka or Redis.

>>> from labelstream.core.schemas import Record
>>> policy = ThresholdPolicy(confidence_threshold=0.7, cold_start_records=0, cold_start_corrections=4)
>>> engine = LabelingEngine(OnlineModel(seed=1), policy)
>>> records = [Record(id=str(i), features={"x": float(i % 2 * 2 - 1)}) for i in range(6)]
>>> [routed.decision.reason for routed in engine.process(records[:2])]
['cold_start', 'cold_start']
>>> for _ in range(30):
...     engine.learn({"x": 1.0}, "pos"); engine.learn({"x": -1.0}, "neg")
>>> [(r.prediction.label, r.decision.outcome) for r in engine.process(records[2:4])]
[('neg', 'label'), ('pos', 'label')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from labelstream.core.drift import Detection, DriftMonitor
from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Decision, Evidence, Policy, Prediction, ThresholdPolicy
from labelstream.core.schemas import Record


@dataclass(frozen=True, slots=True)
class Routed:
    """One record with its prediction and the policy's decision."""

    record: Record
    prediction: Prediction
    decision: Decision


class LabelingEngine:
    """Ties a featurizer, an online model and a routing policy together.

    With a drift ``monitor``, :meth:`process` feeds it every prediction and
    :meth:`learn` every answer given with its evidence; the detections wait
    in :attr:`detections` until the caller takes them with :meth:`drain_detections`.
    """

    def __init__(
        self,
        model: OnlineModel,
        policy: Policy,
        featurizer: Featurizer | None = None,
        model_version: int = 0,
        monitor: DriftMonitor | None = None,
    ) -> None:
        self.model = model
        self.policy = policy
        self.featurizer = featurizer or Featurizer()
        self.model_version = model_version
        self.monitor = monitor
        self.detections: list[Detection] = []

    def predict(self, features_batch: Sequence[Mapping[str, float | int | str]]) -> list[Prediction]:
        """Predictions for a batch of feature mappings, in order."""
        xs = self.featurizer.transform_many(features_batch)
        return [Prediction.from_probabilities(p) for p in self.model.predict_proba_many(xs)]

    def process(self, records: Sequence[Record]) -> list[Routed]:
        """Predict and route a batch of records, in stream order."""
        predictions = self.predict([record.features for record in records])
        decisions = self.policy.decide_many(predictions, self.model.n_learned)
        if self.monitor is not None:
            self._monitor_batch(records, predictions, decisions)
        return [Routed(r, p, d) for r, p, d in zip(records, predictions, decisions, strict=True)]

    def learn(
        self, features: Mapping[str, float | int | str], label: str, evidence: Evidence | None = None
    ) -> None:
        """Learn a human answer; ``evidence`` (what was predicted at routing time) also feeds the policy."""
        if evidence is not None:
            self.policy.learn(evidence)
            if self.monitor is not None:
                self.detections += self.monitor.update_error(evidence.correct, evidence.timestamp or None)
        self.model.learn_one(self.featurizer.transform_one(features), label)

    def drain_detections(self) -> list[Detection]:
        """The drift detections since the last call, oldest first."""
        detections, self.detections = self.detections, []
        return detections

    def _monitor_batch(
        self, records: Sequence[Record], predictions: list[Prediction], decisions: list[Decision]
    ) -> None:
        monitor = self.monitor
        for record, prediction, decision in zip(records, predictions, decisions, strict=True):
            self.detections += monitor.update_features(record.features, record.timestamp)
            self.detections += monitor.update_prediction(prediction, decision.outcome, record.timestamp)

    def swap_model(self, model: OnlineModel, featurizer: Featurizer, policy_state: dict, version: int) -> None:
        """Adopt a new model version; the policy keeps its routing state and takes the learned state."""
        self.model = model
        self.featurizer = featurizer
        self.policy.load_learned_state(policy_state)
        self.model_version = version


