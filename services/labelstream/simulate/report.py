"""The simulation report, built from plain per-record outcomes.

Anything that knows, for each record, its true label, where it was routed
and the label it finally got can build the report: the in-process simulator
and the ``--via-kafka`` run (which reads the outcome topics) alike.

>>> outcomes = [
...     RecordOutcome(0, "a", "yes", "label", "confident", "yes", 0.97, label="yes", method="auto"),
...     RecordOutcome(1, "b", "no", "review", "uncertain", "yes", 0.6, label="no", method="human"),
...     RecordOutcome(2, "c", "no", "deferred", "over_budget", "no", 0.7),
...     RecordOutcome(3, "d", "no", "review", "audit", "no", 0.99, 0.5, label="no", method="human"),
... ]
>>> report = build_report(outcomes, settings={}, window_size=2)
>>> report["auto_share"], report["review_share"], report["deferred_share"], report["label_accuracy"]
(0.25, 0.5, 0.25, 1.0)
>>> [(w["start"], w["auto_share"]) for w in report["windows"]]
[(0, 0.5), (2, 0.0)]
>>> report["audit_precision_estimate"], report["audit_count"]
(1.0, 1)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from labelstream.core.bounds import WeightedSums

REPORT_KEYS = (
    "records", "auto_share", "auto_precision", "review_share", "deferred_share", "label_accuracy", "per_class",
    "windows", "settings", "audit_precision_estimate", "audit_ci", "drift_events",
)


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """Where one record ended, with what the model said when it was routed.

    ``outcome`` is the final one: a deferred record that was relabeled later
    has ``outcome="label"``, ``method="auto"`` and ``relabeled=True``, and keeps
    its routing ``reason``.
    """

    index: int
    id: str
    true_label: str
    outcome: str
    reason: str
    predicted_label: str | None
    confidence: float
    inclusion_probability: float = 1.0
    label: str | None = None
    method: str | None = None
    relabeled: bool = False
    model_version: int = 0
    generation: int = 0
    audit_probability: float | None = None
    """The probability of an audit at its routing (``None``: its inclusion probability stands for it)."""
    votes: dict[str, str] | None = None
    """Labeling functions' votes on the record when any voted (a ``weak`` auto-label combined them)."""

    @property
    def auto(self) -> bool:
        """An automatic label: by the model (``auto``) or by the model with labeling functions (``weak``)."""
        return self.method in ("auto", "weak")

    @property
    def correct(self) -> bool:
        return self.label == self.true_label


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _precision(outcomes: Iterable[RecordOutcome]) -> float | None:
    outcomes = list(outcomes)
    return _share(sum(o.correct for o in outcomes), len(outcomes))


def window_summary(outcomes: Sequence[RecordOutcome], start: int, end: int) -> dict[str, Any]:
    """Shares and auto precision of the records whose index is in ``[start, end)``."""
    chunk = [o for o in outcomes if start <= o.index < end]
    auto = [o for o in chunk if o.auto]
    return {
        "start": start,
        "end": end,
        "records": len(chunk),
        "auto_share": _share(len(auto), len(chunk)),
        "auto_precision": _precision(auto),
        "review_share": _share(sum(o.outcome == "review" for o in chunk), len(chunk)),
        "deferred_share": _share(sum(o.outcome == "deferred" for o in chunk), len(chunk)),
    }


def windows(outcomes: Sequence[RecordOutcome], size: int, start: int = 0) -> list[dict[str, Any]]:
    """Consecutive windows of ``size`` records from index ``start`` on."""
    last = max((o.index for o in outcomes), default=-1) + 1
    return [window_summary(outcomes, s, min(s + size, last)) for s in range(start, last, size)]


def audit_estimate(outcomes: Iterable[RecordOutcome], confidence_level: float) -> dict[str, Any]:
    """Inverse-probability-weighted precision of auto-labels from audited records: overall, per predicted class,
    and per calibration generation (after a drift reset the old estimate no longer describes the auto-labels)."""
    overall = WeightedSums()
    by_class: dict[str, WeightedSums] = defaultdict(WeightedSums)
    by_generation: dict[int, WeightedSums] = defaultdict(WeightedSums)
    counts: Counter[int] = Counter()
    for o in outcomes:
        if o.reason != "audit" or o.outcome != "review" or o.predicted_label is None:
            continue
        counts[o.generation] += 1
        correct = o.predicted_label == o.true_label
        weight = 1.0 / (o.audit_probability or o.inclusion_probability)
        overall.add(correct, weight)
        by_class[o.predicted_label].add(correct, weight)
        by_generation[o.generation].add(correct, weight)
    estimate = overall.proportion(confidence_level)
    count = sum(counts.values())
    return {
        "audit_precision_estimate": None if not count else estimate.estimate,
        "audit_ci": None if not count else [estimate.lower, estimate.upper],
        "audit_count": count,
        "audit_per_class": {label: sums.proportion(confidence_level).as_dict() for label, sums in sorted(by_class.items())},
        "audit_per_generation": {
            str(generation): {**sums.proportion(confidence_level).as_dict(), "count": counts[generation]}
            for generation, sums in sorted(by_generation.items())
        },
    }


def _per_class(outcomes: Sequence[RecordOutcome], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[RecordOutcome]] = defaultdict(list)
    for o in outcomes:
        group = getattr(o, key)
        if group is not None:
            groups[group].append(o)
    summary = {}
    for label, members in sorted(groups.items()):
        auto = [o for o in members if o.auto]
        summary[label] = {
            "count": len(members),
            "auto_share": _share(len(auto), len(members)),
            "auto_precision": _precision(auto),
        }
    return summary


def build_report(
    outcomes: Sequence[RecordOutcome],
    settings: dict[str, Any],
    window_size: int = 500,
    confidence_level: float = 0.95,
    drift_events: Sequence[dict[str, Any]] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of a simulation (the keys of :data:`REPORT_KEYS` and more)."""
    n = len(outcomes)
    auto = [o for o in outcomes if o.auto]
    labeled = [o for o in outcomes if o.label is not None]
    relabeled = [o for o in outcomes if o.relabeled]
    report: dict[str, Any] = {
        "records": n,
        "auto_share": _share(len(auto), n),
        "auto_precision": _precision(auto),
        "review_share": _share(sum(o.outcome == "review" for o in outcomes), n),
        "deferred_share": _share(sum(o.outcome == "deferred" for o in outcomes), n),
        "label_accuracy": _precision(labeled),
        "relabeled_share": _share(len(relabeled), n),
        "relabeled_precision": _precision(relabeled),
        "per_class": _per_class(outcomes, "true_label"),
        "per_predicted_class": _per_class([o for o in outcomes if o.auto], "label"),
        "windows": windows(outcomes, window_size),
        **audit_estimate(outcomes, confidence_level),
        "reasons": {
            outcome: dict(Counter(o.reason for o in outcomes if o.outcome == outcome and not o.relabeled))
            for outcome in ("label", "review", "deferred")
        },
        "model_versions": max((o.model_version for o in outcomes), default=0),
        "drift_events": list(drift_events),
        "settings": settings,
    }
    report.update(extra or {})
    return report
