"""The report builder: plain per-record outcomes in, the issue's keys out."""

from __future__ import annotations

import doctest

import pytest

import labelstream.simulate.report as report_module
from labelstream.simulate.report import REPORT_KEYS, RecordOutcome, build_report, windows


def outcome(index: int, true: str, outcome: str, reason: str, predicted: str, label: str | None, method: str | None,
            probability: float = 1.0, relabeled: bool = False) -> RecordOutcome:
    return RecordOutcome(index, f"r{index}", true, outcome, reason, predicted, 0.9, probability, label, method, relabeled)


OUTCOMES = [
    outcome(0, "a", "label", "confident", "a", "a", "auto"),
    outcome(1, "b", "label", "confident", "a", "a", "auto"),
    outcome(2, "b", "review", "uncertain", "a", "b", "human"),
    outcome(3, "a", "review", "audit", "a", "a", "human", probability=0.1),
    outcome(4, "b", "review", "audit", "a", "b", "human", probability=0.5),
    outcome(5, "a", "label", "no_evidence", "a", "a", "auto", relabeled=True),
    outcome(6, "b", "deferred", "over_budget", "b", None, None),
]


def test_report_has_every_key_of_the_issue():
    report = build_report(OUTCOMES, settings={"policy": {}}, drift_events=[{"detector": "error:a"}])
    assert set(REPORT_KEYS) <= set(report)
    assert report["drift_events"] == [{"detector": "error:a"}]


def test_shares_precision_and_accuracy():
    report = build_report(OUTCOMES, settings={})
    assert report["records"] == 7
    assert report["auto_share"] == pytest.approx(3 / 7)
    assert report["auto_precision"] == pytest.approx(2 / 3)
    assert report["review_share"] == pytest.approx(3 / 7)
    assert report["deferred_share"] == pytest.approx(1 / 7)
    assert report["label_accuracy"] == pytest.approx(5 / 6)
    assert report["relabeled_share"] == pytest.approx(1 / 7)
    assert report["per_class"]["b"] == {"count": 4, "auto_share": 0.25, "auto_precision": 0.0}
    assert report["per_predicted_class"]["a"]["auto_precision"] == pytest.approx(2 / 3)


def test_audit_estimate_weights_each_audit_by_its_inclusion_probability():
    report = build_report(OUTCOMES, settings={})
    assert report["audit_count"] == 2
    assert report["audit_precision_estimate"] == pytest.approx(10 / 12)  # weights 10 (right) and 2 (wrong)
    low, high = report["audit_ci"]
    assert low < report["audit_precision_estimate"] < high


def test_windows_cover_the_stream_in_order():
    chunks = windows(OUTCOMES, size=3)
    assert [(w["start"], w["end"], w["records"]) for w in chunks] == [(0, 3, 3), (3, 6, 3), (6, 7, 1)]
    assert chunks[0]["auto_precision"] == 0.5


def test_no_audit_no_estimate():
    report = build_report(OUTCOMES[:3], settings={})
    assert report["audit_precision_estimate"] is None and report["audit_ci"] is None


def test_doctests():
    assert doctest.testmod(report_module).failed == 0


def test_audit_estimate_weights_by_the_audit_draw_and_splits_by_generation():
    """An audit near the boundary has a total review probability near 1, but was drawn at the audit rate."""
    from labelstream.simulate.report import RecordOutcome, audit_estimate

    def audit(i, right, generation, p_audit, p_total):
        return RecordOutcome(i, str(i), "a", "review", "audit", "a" if right else "b", 0.99, p_total,
                             label="a", method="human", generation=generation, audit_probability=p_audit)

    outcomes = [audit(0, True, 0, 0.05, 1.0), audit(1, False, 0, 0.5, 0.5), audit(2, False, 1, 0.05, 0.05)]
    report = audit_estimate(outcomes, 0.95)
    assert report["audit_per_generation"]["0"]["estimate"] == pytest.approx(20 / 22)  # weights 20 and 2, not 1 and 2
    assert report["audit_per_generation"]["1"]["estimate"] == 0.0 and report["audit_per_generation"]["1"]["count"] == 1
    assert report["audit_precision_estimate"] == pytest.approx(20 / 42)
