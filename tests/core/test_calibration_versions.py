"""The label-free version check: the share of the would-be auto-labels a new version labels differently."""

from __future__ import annotations

import doctest

import labelstream.core.calibration_versions as versions_module
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_versions import version_disagreement
from labelstream.core.policy.base import Prediction
from labelstream.core.policy.contract import ContractPolicy, is_evidence_detector
from labelstream.core.strategies import Split


def p(label: str, score: float) -> Prediction:
    return Prediction.from_probabilities({label: score, ("b" if label == "a" else "a"): 1 - score})


def test_only_records_either_version_would_auto_label_count():
    previous = [p("a", 0.99), p("a", 0.6), p("b", 0.7), p("a", 0.95)]
    current = [p("a", 0.99), p("b", 0.6), p("b", 0.99), p("b", 0.8)]
    # "b" has no threshold: its records count only where the other version auto-labels "a".
    assert version_disagreement(previous, current, {"a": 0.9, "b": None}) == (2, 0.5)
    assert version_disagreement(previous, current, {}) == (0, 0.0)


def test_a_version_change_opens_a_generation():
    assert is_evidence_detector("version_change")
    policy = ContractPolicy(PrecisionCalibrator(), Split(seed=1), seed=1)
    policy.on_drift("version_change")
    assert policy.generation == 1


def test_doctests():
    assert doctest.testmod(versions_module).failed == 0
