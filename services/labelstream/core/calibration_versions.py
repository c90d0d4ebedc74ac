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

import copy
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

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


class _Predicts(Protocol):
    def predict_many(self, xs: Sequence[dict[str, float]]) -> list[Prediction]: ...


class VersionChangeCheck:
    """The check at each new model version: recent model inputs, the previous version, and a bar.

    Parameters
    ----------
    bar
        A new version labeling more than this share of the recent would-be auto-labels differently
        from the previous one fails the check (``policy.version_change_reset``).
    window
        How many recent model inputs it keeps.

    >>> class Sign:  # a stand-in model: the sign of x, sure of it
    ...     def __init__(self, flip): self.flip = flip
    ...     def predict_many(self, xs):
    ...         return [Prediction.from_probabilities({"a": 0.99, "b": 0.01} if (x["x"] > 0) != self.flip
    ...                                               else {"a": 0.01, "b": 0.99}) for x in xs]
    >>> check = VersionChangeCheck(bar=0.2)
    >>> for i in range(10):
    ...     check.observe({"x": i - 4.5})
    >>> check.changed(Sign(False), {"a": 0.9, "b": 0.9})  # the first version: nothing to compare with
    False
    >>> check.changed(Sign(False), {"a": 0.9, "b": 0.9}), check.changed(Sign(True), {"a": 0.9, "b": 0.9})
    (False, True)
    >>> check.last
    (10, 1.0)
    """

    def __init__(self, bar: float, window: int = 500) -> None:
        self.bar = bar
        self._recent: deque[dict[str, float]] = deque(maxlen=window)
        self._previous: Any = None
        self._reference: Any = None  # the version in force when the calibration's generation opened
        self._generation: int | None = None
        self.last: tuple[int, float] = (0, 0.0)  # the latest comparison: region size, share relabeled

    def observe(self, x: Mapping[str, float]) -> None:
        """A recent record's model input."""
        self._recent.append(dict(x))

    def changed(
        self, model: _Predicts, thresholds: Mapping[str, float | None], generation: int | None = None,
        margin: float = 0.0,
    ) -> bool:
        """Whether ``model`` (the new version) relabels more than ``bar`` of the recent auto region; it becomes
        the version the next one is compared with. ``False`` while no class has a threshold.

        With ``generation`` (the calibration's), the new version is also compared with the *reference*: the
        version in force when that generation opened, whose answers are the oldest evidence the proofs still
        hold. A model that moves a little at every version (each step under the bar) is caught once it has
        moved more than the bar away from the versions that proved its thresholds.

        ``margin`` (see :func:`evidence_margin`) raises the bar: a model whose evidence is that far above the
        target can relabel that share of its auto region and stay above it.
        """
        previous, self._previous = self._previous, copy.deepcopy(model)
        if generation is not None and (generation != self._generation or self._reference is None):
            self._generation = generation
            self._reference = previous if previous is not None else self._previous
        if previous is None or not self._recent or not any(t is not None for t in thresholds.values()):
            return False
        recent = list(self._recent)
        current = model.predict_many(recent)
        self.last = version_disagreement(previous.predict_many(recent), current, thresholds)
        if generation is not None and self._reference is not None and self._reference is not previous:
            since = version_disagreement(self._reference.predict_many(recent), current, thresholds)
            self.last = max(self.last, since, key=lambda last: last[1])
        region, share = self.last
        return region > 0 and share > max(self.bar, margin)


class _Calibration(Protocol):
    bar: float

    def precision_above(self, label: str, threshold: float) -> Any: ...


def evidence_margin(calibrator: _Calibration, thresholds: Mapping[str, float | None]) -> float:
    """How far the evidence is above the agreement bar, at worst over the classes with a threshold in force.

    The lower end of each class's (pointwise) interval for the precision above its threshold, minus the bar; 0
    when no class has a threshold or an interval is undefined. A version that relabels a share ``d`` of the
    auto region moves the precision above a threshold by about ``d`` at most, so the evidence's margin is what
    the model may move before its proofs no longer cover it.

    >>> from types import SimpleNamespace
    >>> intervals = {"a": SimpleNamespace(estimate=0.99), "b": SimpleNamespace(estimate=0.97)}
    >>> calibrator = SimpleNamespace(bar=0.95, precision_above=lambda label, t: intervals[label])
    >>> round(evidence_margin(calibrator, {"a": 0.9, "b": 0.8}), 3), evidence_margin(calibrator, {"a": None})
    (0.02, 0.0)
    """
    margins = []
    for label, threshold in thresholds.items():
        if threshold is None:
            continue
        estimate = calibrator.precision_above(label, threshold).estimate
        margins.append(estimate - calibrator.bar if estimate == estimate else 0.0)  # NaN: no evidence
    return max(0.0, min(margins)) if margins else 0.0
