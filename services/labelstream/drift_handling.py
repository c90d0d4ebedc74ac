"""What a service does with drift detections: count them, publish events, apply the reaction policy.

The learner sees the error detectors (human answers) and owns the learned
reactions (calibration reset, challenger); the labeler sees the prediction
detectors (confidence, class shares) and raises its audits. A drift never
stops either.
"""

from __future__ import annotations

import logging

from labelstream.core.drift import Detection, DriftMonitor
from labelstream.core.engine import LabelingEngine
from labelstream.core.reaction import DriftReaction
from labelstream.kafka.events import EventPublisher
from labelstream.metrics import Metrics
from labelstream.settings import Settings

log = logging.getLogger("labelstream.drift")


def build_monitor(settings: Settings) -> DriftMonitor | None:
    return DriftMonitor.from_settings(settings.drift) if settings.drift.enabled else None


class DriftHandler:
    """Drains an engine's detections after each unit of work and acts on them."""

    def __init__(self, settings: Settings, service: str, metrics: Metrics, events: EventPublisher) -> None:
        self.service = service
        self.metrics = metrics
        self.events = events
        self.reaction = DriftReaction.from_settings(settings.drift, settings.model)
        self.detections = 0

    def handle(self, engine: LabelingEngine) -> list[Detection]:
        """Publish and react to every detection since the last call."""
        found = engine.drain_detections()
        for detection in found:
            steps = self.reaction.react(detection, engine.policy)
            self.metrics.record_drift(detection.detector)
            event = detection.to_event(self.service)
            self.events.publish("drift", **event.detail, reactions=steps)
            log.warning("drift on %s (%.3f -> %.3f): %s", detection.detector, detection.estimate_before, detection.estimate_after, steps or "reported")
        self.detections += len(found)
        if engine.monitor is not None:
            self.metrics.set_drift_estimates(engine.monitor.estimates())
        return found
