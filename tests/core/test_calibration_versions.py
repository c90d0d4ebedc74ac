"""The label-free version check: the share of the would-be auto-labels a new version labels differently."""

from __future__ import annotations

import doctest

import labelstream.core.calibration_versions as versions_module
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_versions import VersionChangeCheck, version_disagreement
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


class _Boundary:
    """A stand-in model: class "a" above ``cut``, sure of it (a model that moves a little at every version)."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict_many(self, xs):
        return [p("a", 0.99) if x["x"] > self.cut else p("b", 0.99) for x in xs]


def test_small_steps_add_up_against_the_generation_s_first_version():
    """Each version relabels 1 % of the auto region (under a 2 % bar); after three the versions that proved the
    thresholds are 3 % away: the check fires with the generation, and never without it (predecessors only)."""
    fired = {}
    for generation in (None, 0):
        check = VersionChangeCheck(bar=0.02)
        for i in range(100):
            check.observe({"x": i + 0.5})
        fired[generation] = [check.changed(_Boundary(cut), {"a": 0.9, "b": 0.9}, generation) for cut in range(5)]
    assert fired[None] == [False] * 5
    assert fired[0] == [False, False, False, True, True]


def test_a_new_generation_moves_the_reference():
    check = VersionChangeCheck(bar=0.02)
    for i in range(100):
        check.observe({"x": i + 0.5})
    assert [check.changed(_Boundary(cut), {"a": 0.9}, 0) for cut in range(4)] == [False, False, False, True]
    # The reset opened generation 1 while version 3 was in force: later versions are compared with it, not
    # with version 0 (4 is 1 of its 97 auto-labels away, 5 is 2 of 97: over the bar).
    assert [check.changed(_Boundary(cut), {"a": 0.9}, 1) for cut in (4, 5)] == [False, True]


def test_evidence_far_above_the_target_allows_a_larger_move():
    """A 3 % move fires against a 2 % bar, but not when the evidence is 5 points above the agreement bar."""
    for margin, expected in ((0.0, True), (0.05, False)):
        check = VersionChangeCheck(bar=0.02)
        for i in range(100):
            check.observe({"x": i + 0.5})
        assert check.changed(_Boundary(0), {"a": 0.9}, 0, margin) is False
        assert check.changed(_Boundary(3), {"a": 0.9}, 0, margin) is expected
