"""Routing policies: each record's outcome (label, review, deferred) from its prediction."""

from labelstream.core.policy.base import Decision, Evidence, Policy, Prediction
from labelstream.core.policy.threshold import ThresholdPolicy

__all__ = ["Decision", "Evidence", "Policy", "Prediction", "ThresholdPolicy"]
