"""After an answer's evidence: the policy's calibration check and the drift detectors, reported."""

from __future__ import annotations

from labelstream.core.engine import LabelingEngine
from labelstream.drift_handling import DriftHandler
from labelstream.kafka.events import EventPublisher
from labelstream.metrics import Metrics


class AnswerDrift:
    """Reports what an answer's evidence set off: a new calibration generation (the policy's calibration
    check), then the drift detectors' detections (:class:`~labelstream.drift_handling.DriftHandler`)."""

    def __init__(self, engine: LabelingEngine, drift: DriftHandler, metrics: Metrics, events: EventPublisher) -> None:
        self.engine = engine
        self.drift = drift
        self.metrics = metrics
        self.events = events

    def generation(self) -> int:
        """The policy's calibration generation now (take it before the evidence)."""
        return getattr(self.engine.policy, "drift_generation", 0)

    def report(self, generation_before: int, record_id: str) -> None:
        """Count and publish the calibration check if it fired since ``generation_before``; handle detections."""
        if self.generation() > generation_before:  # the policy's calibration check fired
            self.metrics.record_drift("calibration_check")
            self.events.publish("drift", detector="calibration_check", record_id=record_id, reactions=["policy"])
        self.drift.handle(self.engine)
