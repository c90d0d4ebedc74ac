"""The ``labeling_functions`` section of a simulation report: each LF against the truth, and the weak labels.

A simulation knows every record's true label, so besides what the service
itself can know (coverage, overlap, conflict, accuracy on answered records,
the label model's learned accuracy) the section gives each LF's **true
accuracy** over every record it voted on, and the share and precision of
auto-labels whose score combined LF votes (``method=weak``).

>>> from labelstream.core.weak import LabelingFunction, WeakSupervision
>>> from labelstream.simulate.report import RecordOutcome
>>> weak = WeakSupervision.build([LabelingFunction("lf", lambda r: "yes")], batch_timeout=None)
>>> outcomes = [
...     RecordOutcome(0, "a", "yes", "label", "confident", "yes", 0.97, label="yes", method="weak", votes={"lf": "yes"}),
...     RecordOutcome(1, "b", "no", "review", "uncertain", "yes", 0.6, label="no", method="human", votes={"lf": "yes"}),
... ]
>>> section = weak_report(weak, outcomes)
>>> section["functions"]["lf"]["true_accuracy"], section["weak_share"], section["weak_precision"]
(0.5, 0.5, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelstream.core.weak import WeakSupervision
from labelstream.simulate.report import RecordOutcome


def weak_report(weak: WeakSupervision, outcomes: Sequence[RecordOutcome]) -> dict[str, Any]:
    """LF statistics (the service's and the truth's) and the weak labels' share and precision."""
    voted = {name: 0 for name in weak.names}
    right = {name: 0 for name in weak.names}
    for outcome in outcomes:
        for name, vote in (outcome.votes or {}).items():
            voted[name] += 1
            right[name] += vote == outcome.true_label
    functions = weak.stats()
    for name, row in functions.items():
        row["true_accuracy"] = right[name] / voted[name] if voted[name] else None
    weak_labels = [o for o in outcomes if o.method == "weak"]
    n = len(outcomes)
    return {
        "combine": weak.combiner.name,
        "functions": functions,
        "records_with_votes": sum(bool(o.votes) for o in outcomes),
        "weak_labels": len(weak_labels),
        "weak_share": len(weak_labels) / n if n else None,
        "weak_precision": sum(o.correct for o in weak_labels) / len(weak_labels) if weak_labels else None,
    }
