"""What the learner's parts share: the engine, the work pending a version, the Redis retry, metrics and events."""

from __future__ import annotations

from dataclasses import dataclass

from labelstream.core.calibration_versions import VersionChangeCheck
from labelstream.core.engine import LabelingEngine
from labelstream.kafka.events import EventPublisher
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.metrics import Metrics


@dataclass(frozen=True, slots=True)
class LearnerContext:
    """The collaborators every part of one learner works with (built once by :class:`~labelstream.learner.Learner`).

    ``pending`` holds the offsets, sends and acks a version waits for; ``retry`` waits out a Redis restart;
    ``version_check`` is the label-change check across versions (``policy.version_change_reset``; ``None``: off).
    """

    engine: LabelingEngine
    pending: Pending
    retry: RedisRetry
    metrics: Metrics
    events: EventPublisher
    version_check: VersionChangeCheck | None = None
