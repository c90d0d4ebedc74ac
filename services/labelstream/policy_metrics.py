"""Export what a routing policy knows (per-class thresholds, audit precision) as metrics."""

from __future__ import annotations

from labelstream.core.bounds import Proportion
from labelstream.core.policy import Policy
from labelstream.metrics import OVERALL, Metrics


def export_policy_metrics(metrics: Metrics, policy: Policy, target_precision: float) -> None:
    """Thresholds (calibrated policies), audit precision estimates with their bounds for this calibration
    generation and over all of them, and the generation (contract policy)."""
    calibrator = getattr(policy, "calibrator", None)
    if calibrator is not None:
        in_force = getattr(policy, "thresholds", None)  # the contract's: proven and validated for this version
        metrics.set_thresholds(in_force() if callable(in_force) else calibrator.thresholds())
        metrics.reviewer_accuracy.set(calibrator.reviewer_accuracy)
        metrics.policy_paused.set(1.0 if getattr(calibrator, "paused", None) else 0.0)
    audits = getattr(policy, "audits", None)
    if audits is not None:
        estimates = {label: p for label, p in audits.estimates().items()}
        estimates[OVERALL] = audits.estimate()
        metrics.set_precision(
            {label: (p.estimate, p.lower, p.upper) for label, p in estimates.items() if _has_data(p)},
            target=target_precision,
        )
    total = getattr(policy, "audits_total", None)
    if total is not None:
        overall = total.estimate()
        metrics.set_calibration(
            getattr(policy, "generation", 0), (overall.estimate, overall.lower, overall.upper) if _has_data(overall) else None
        )


def _has_data(proportion: Proportion) -> bool:
    return proportion.effective_size > 0
