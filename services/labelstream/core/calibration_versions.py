"""How differently a new model version labels what the calibration would auto-label: a label-free check.

The calibration keeps evidence across the model versions of a generation
(docs/contract.md, section 4): each answer tests the version that scored it.
A new version that is *worse* above a proven threshold is then outside the
promise until audits un-prove the threshold ("What a whole-stream precision
figure can show", case 3). This check needs no answer: on recent records it
counts those that either version would auto-label (score at or above its
class's threshold) and the share of them the two versions label differently.
A share above a bar is a reason to open a new generation (only ever a
*reset*, which never weakens the guarantee; it costs coverage).

>>> from labelstream.core.policy.base import Prediction
>>> old = [Prediction.from_probabilities(p) for p in ({"a": 0.99, "b": 0.01}, {"a": 0.6, "b": 0.4}, {"a": 0.98, "b": 0.02})]
>>> new = [Prediction.from_probabilities(p) for p in ({"a": 0.97, "b": 0.03}, {"a": 0.3, "b": 0.7}, {"a": 0.1, "b": 0.9})]
>>> version_disagreement(old, new, {"a": 0.9, "b": 0.95})  # the 2nd is not auto-labeled by either; the 3rd changed
(2, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from labelstream.core.policy.base import Prediction


def _auto(prediction: Prediction, thresholds: Mapping[str, float | None]) -> bool:
    threshold = thresholds.get(prediction.label) if prediction.label is not None else None
    return threshold is not None and prediction.confidence >= threshold


def version_disagreement(
    previous: Sequence[Prediction], current: Sequence[Prediction], thresholds: Mapping[str, float | None]
) -> tuple[int, float]:
    """Records either version would auto-label, and the share of them whose labels differ (0 when none)."""
    region = [(a.label, b.label) for a, b in zip(previous, current, strict=True) if _auto(a, thresholds) or _auto(b, thresholds)]
    if not region:
        return 0, 0.0
    return len(region), sum(a != b for a, b in region) / len(region)
