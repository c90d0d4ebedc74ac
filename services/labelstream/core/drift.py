"""Drift detection: ADWIN detectors on the model's error, its confidence and the class mix.

A :class:`DriftMonitor` owns one :class:`river.drift.ADWIN` per monitored
value and is fed with small verbs:

- :meth:`~DriftMonitor.update_error` with each reviewed record (was the
  prediction right?): detector ``error:<predicted class>``, alarms when the
  error rate of that class's predictions rises. One detector per predicted
  class, not one overall: the policy picks which records humans see (cold
  start, audits, uncertain ones, per class), and a change in that mix changes
  the overall error of reviewed records without any drift;
- :meth:`~DriftMonitor.update_prediction` with each routed record: detector
  ``confidence`` (mean top probability, alarms when it falls) and
  ``class_share:<class>`` (share of each predicted class, alarms both ways)
  among all predictions, or among auto-labels only with
  ``class_share_of="auto_labels"`` — which also moves whenever the policy
  starts or stops auto-accepting a class, a change of routing, not of data;
- :meth:`~DriftMonitor.update_features` with each record's numeric features
  (``feature:<name>``, off by default: wide records would need many detectors;
  missing values are skipped).

Each verb returns the detections it caused as :class:`Detection` values
(plain data). The monitor never acts on them: the caller turns them into
``Event(kind="drift")`` and a reaction (see :mod:`labelstream.core.reaction`).

References: Bifet and Gavaldà, "Learning from time-changing data with
adaptive windowing", SDM 2007.

>>> import random
>>> rng = random.Random(3)
>>> monitor = DriftMonitor(warmup=100)
>>> detections = []
>>> for i in range(4000):
...     error_rate = 0.05 if i < 2000 else 0.4
...     detections += monitor.update_error(correct=rng.random() >= error_rate, predicted="spam")
>>> [(d.detector, d.direction, 2000 <= d.index < 2200) for d in detections]
[('error:spam', 'increase', True)]
>>> detections[0].index, round(detections[0].estimate_before, 3), round(detections[0].estimate_after, 3)
(2048, 0.049, 0.058)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import repeat
from operator import eq, length_hint
from typing import Literal

try:  # ADWIN's engine itself: river.drift's package would import river.datasets (scikit-learn) and KSWIN (scipy.stats)
    from river._river_rust.drift import AdaptiveWindowing
except ImportError:  # pragma: no cover - a river without its Rust ADWIN: the public class (slower start, same results)
    AdaptiveWindowing = None

from labelstream.core.policy.base import Prediction
from labelstream.core.schemas import Event
from labelstream.settings import DriftSettings

Direction = Literal["increase", "decrease"]
AlarmOn = Literal["increase", "decrease", "both"]

ERROR = "error:"
CONFIDENCE = "confidence"
CLASS_SHARE = "class_share:"
OTHER = "__other__"
FEATURE = "feature:"


@dataclass(frozen=True, slots=True)
class Detection:
    """One drift: which detector, when, and the monitored value before and after the change.

    ``index`` counts the records the monitor had seen (predictions, or
    answers for a monitor fed only answers); ``updates`` counts the
    detector's own inputs. ``estimate_before`` is the mean of the part of the
    window ADWIN dropped, ``estimate_after`` the mean of the part it kept
    (``window`` values; right after an abrupt change, it still holds mostly
    old values, so the new level is higher than it says for a rise).
    """

    detector: str
    index: int
    updates: int
    estimate_before: float
    estimate_after: float
    window: int
    direction: Direction
    timestamp: float | None = None

    def to_event(self, service: str) -> Event:
        """The ``drift`` Event for the ``events`` topic."""
        return Event(kind="drift", service=service, detail=asdict(self))


class Detector:
    """One ADWIN on one monitored value, alarming on the directions that matter.

    The window is river's ADWIN (its Rust engine, ``AdaptiveWindowing``,
    driven as :class:`river.drift.ADWIN` drives it: the update after a
    detection starts a new window). :meth:`update_many` feeds a run of values
    in one loop with the results of as many :meth:`update` calls.

    >>> detector = Detector("confidence", alarm_on="decrease", warmup=0)
    >>> any(detector.update(0.9) for _ in range(1000))
    False
    >>> found = [d for d in (detector.update(0.5) for _ in range(300)) if d]
    >>> found[0].direction, round(found[0].estimate_before, 2)
    ('decrease', 0.9)
    """

    def __init__(
        self,
        name: str,
        alarm_on: AlarmOn = "both",
        delta: float = 0.002,
        clock: int = 32,
        grace_period: int = 10,
        warmup: int = 0,
    ) -> None:
        self.name = name
        self.alarm_on = alarm_on
        self.delta = delta
        self.clock = clock
        self.grace_period = grace_period
        self.warmup = warmup
        self.updates = 0
        self._new_window()
        self._detected = False  # the last update detected a change: the next one starts a new window

    def _new_window(self) -> None:
        if AdaptiveWindowing is None:  # pragma: no cover - see the import
            from river.drift import ADWIN

            self._window = ADWIN(self.delta, self.clock, grace_period=self.grace_period)._helper
        else:
            self._window = AdaptiveWindowing(
                delta=self.delta, clock=self.clock, max_buckets=5, min_window_length=5, grace_period=self.grace_period
            )
        self._ticks = 0  # updates of this window: it looks for a change on every clock-th one only

    @property
    def estimate(self) -> float:
        """Mean of the current window."""
        width = self._window.get_width()
        return self._window.get_total() / width if width else 0.0

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a change (river's ``ADWIN.drift_detected``)."""
        return self._detected

    def update(self, value: float, index: int | None = None, timestamp: float | None = None) -> Detection | None:
        """Add one value; the detection it caused, if any (and if its direction matters)."""
        if self._detected:  # river resets the whole window on the update after a detection
            self._new_window()
        self._ticks += 1
        self.updates += 1
        window = self._window
        if self._ticks % self.clock:
            self._detected = window.update(value)  # False with river's ADWIN (see update_many)
            return None
        total, width = window.get_total(), window.get_width()
        self._detected = window.update(value)
        if not self._detected or self.updates <= self.warmup:
            return None
        return self._detection(value, total, width, self.updates if index is None else index, timestamp)

    def update_many(
        self, values: Sequence[float], indexes: Sequence[int] | None = None, timestamps: Sequence[float | None] | None = None
    ) -> list[Detection]:
        """Add values in order; the detections they caused (as :meth:`update` one by one would report them).

        ADWIN looks for a change only on every ``clock``-th value of a window
        (river's ``AdaptiveWindowing``; ``tests/core/test_drift.py`` holds it to
        river's :class:`~river.drift.ADWIN` value by value): the window's sum and
        width, which a detection reports, are read before those values only.
        """
        found: list[Detection] = []
        window, update, clock, updates = self._window, self._window.update, self.clock, self.updates
        ticks, detected = self._ticks, self._detected
        values = values if isinstance(values, list) else list(values)
        position, n = 0, len(values)
        while position < n:
            if detected:  # river resets the whole window on the update after a detection
                self._new_window()
                window, update, ticks, detected = self._window, self._window.update, 0, False
            run = min(clock - 1 - ticks % clock, n - position)  # the values before the next clock-th one
            if run:  # fed in C; any() stops at an update that detects (none with river's ADWIN: the test above)
                rest = iter(values[position:position + run])
                detected = any(map(update, rest))
                fed = run - length_hint(rest)
                ticks, updates, position = ticks + fed, updates + fed, position + fed
                continue
            value = values[position]
            ticks += 1
            updates += 1
            position += 1
            total, width = window.get_total(), window.get_width()
            if not update(value):
                continue
            detected = True
            if updates <= self.warmup:
                continue
            self.updates = updates
            detection = self._detection(
                value, total, width, updates if indexes is None else indexes[position - 1],
                None if timestamps is None else timestamps[position - 1],
            )
            if detection is not None:
                found.append(detection)
        self.updates, self._ticks, self._detected = updates, ticks, detected
        return found

    def _detection(self, value: float, total: float, width: float, index: int, timestamp: float | None) -> Detection | None:
        """The detection the update of ``value`` made (the window held ``total`` over ``width`` before it), unless
        its direction does not matter."""
        window = self._window
        after_width = window.get_width()
        dropped = width + 1 - after_width
        after = window.get_total() / after_width if after_width else 0.0
        before = (total + value - window.get_total()) / dropped if dropped else after
        direction: Direction = "increase" if after > before else "decrease"
        if self.alarm_on not in ("both", direction):
            return None
        return Detection(self.name, index, self.updates, before, after, int(after_width), direction, timestamp)


class DriftMonitor:
    """The drift detectors of one model, fed by the engine (predictions) and the learner (answers).

    ``delta`` is ADWIN's confidence for the error detector (updated once per
    answer); ``prediction_delta`` for the per-record detectors (confidence,
    class shares, features), which see far more values and need a stricter
    one to keep false alarms rare. No detection is reported before an error
    detector has seen ``warmup`` answers, or a per-record detector
    ``prediction_warmup`` records: while the model is young, its confidence
    and class mix move because it learns, not because the data drift.
    """

    def __init__(
        self,
        error: bool = True,
        confidence: bool = True,
        class_share: bool = True,
        features: bool = False,
        class_share_of: Literal["predictions", "auto_labels"] = "auto_labels",
        delta: float = 0.002,
        prediction_delta: float = 0.0002,
        clock: int = 16,
        grace_period: int = 30,
        warmup: int = 100,
        prediction_warmup: int = 1000,
        max_classes: int = 20,
        max_features: int = 50,
    ) -> None:
        self.error = error
        self.confidence = confidence
        self.class_share = class_share
        self.features = features
        self.class_share_of = class_share_of
        self.delta = delta
        self.prediction_delta = prediction_delta
        self.clock = clock
        self.grace_period = grace_period
        self.warmup = warmup
        self.prediction_warmup = prediction_warmup
        self.max_classes = max_classes
        self.max_features = max_features
        self._reset()

    def _reset(self) -> None:
        self.n_records = 0
        self.n_answers = 0
        self._error: dict[str, Detector] = {}
        self._features: dict[str, Detector] = {}
        self.restart_prediction_detectors()

    def restart_prediction_detectors(self) -> None:
        """Forget the confidence and class-share history: call when a *different* model is swapped in
        (a challenger), whose confidence and class mix differ by construction, not because the data drifted."""
        self._confidence = self._detector(CONFIDENCE, "decrease", per_record=True)
        self._class_share: dict[str, Detector] = {}

    @classmethod
    def from_settings(cls, drift: DriftSettings) -> DriftMonitor:
        """A monitor from the ``drift`` settings section (:class:`~labelstream.settings.DriftSettings`)."""
        names = (
            "error", "confidence", "class_share", "features", "class_share_of", "delta", "prediction_delta", "clock", "grace_period",
            "warmup", "prediction_warmup", "max_classes", "max_features",
        )
        return cls(**{name: getattr(drift, name) for name in names})

    def _detector(self, name: str, alarm_on: AlarmOn, per_record: bool) -> Detector:
        if per_record:
            return Detector(name, alarm_on, self.prediction_delta, self.clock, self.grace_period, self.prediction_warmup)
        return Detector(name, alarm_on, self.delta, self.clock, self.grace_period, self.warmup)

    # -- the verbs -------------------------------------------------------------------------------

    def update_error(self, correct: bool, predicted: str | None, timestamp: float | None = None) -> list[Detection]:
        """A reviewed record's answer: was the model's prediction (of class ``predicted``) right?

        Nothing to watch when the model predicted nothing (``predicted`` is ``None``).
        """
        self.n_answers += 1
        if not self.error or predicted is None:
            return []
        _, detector = self._per_class(self._error, ERROR, predicted, "increase", per_record=False)
        found = detector.update(0.0 if correct else 1.0, self.n_records or self.n_answers, timestamp)
        return [found] if found else []

    def update_prediction(
        self, prediction: Prediction, outcome: str, timestamp: float | None = None
    ) -> list[Detection]:
        """A routed record: its prediction and outcome (``label`` for an auto-label)."""
        self.n_records += 1
        if prediction.label is None or not math.isfinite(prediction.confidence):  # a poison record's NaN
            return []
        found: list[Detection] = []
        if self.confidence:
            self._add(found, self._confidence.update(prediction.confidence, self.n_records, timestamp))
        if self.class_share and (outcome == "label" or self.class_share_of == "predictions"):
            key, _ = self._per_class(self._class_share, CLASS_SHARE, prediction.label, "both", per_record=True)
            for label, detector in self._class_share.items():
                self._add(found, detector.update(float(label == key), self.n_records, timestamp))
        return found

    def update_predictions(
        self, predictions: Sequence[Prediction], outcomes: Sequence[str], timestamps: Sequence[float | None]
    ) -> list[Detection]:
        """A batch of routed records: the detections of :meth:`update_prediction` called on each in turn, in the
        same order, each detector fed its run of values in one loop (:meth:`Detector.update_many`).

        >>> import random
        >>> rng = random.Random(1)
        >>> labels = [("a" if rng.random() < (0.8 if i < 3000 else 0.3) else "b") for i in range(6000)]
        >>> predictions = [Prediction({label: 0.9}, label, 0.9) for label in labels]
        >>> monitor = DriftMonitor(prediction_warmup=0)
        >>> found = monitor.update_predictions(predictions, ["label"] * 6000, [None] * 6000)
        >>> [(d.detector, d.direction, d.index > 3000) for d in found]
        [('class_share:a', 'decrease', True), ('class_share:b', 'increase', True)]
        """
        start = self.n_records
        self.n_records += len(predictions)
        columns = self._columns(predictions, outcomes)
        if columns is not None:  # the common batch, in columns
            confidence, confidence_at, share_keys, share_at = columns
            born: dict[str, int] = {}
        else:
            confidence, confidence_at, share_keys, share_at, born = self._rows(predictions, outcomes)
        found: list[tuple[int, int, Detection]] = []  # (position, detector's rank in update_prediction, detection)
        if self.confidence and confidence:
            self._collect(found, 0, self._confidence, confidence, confidence_at, start, timestamps)
        for rank, (label, detector) in enumerate(self._class_share.items(), start=1):
            first = born.get(label, 0)
            if first < len(share_keys):
                values = list(map(float, map(eq, repeat(label), share_keys[first:])))  # float(key == label), in C
                self._collect(found, rank, detector, values, share_at if share_at is None else share_at[first:],
                              start, timestamps)
        found.sort(key=lambda item: (item[0], item[1]))
        return [detection for _position, _rank, detection in found]

    def _columns(
        self, predictions: Sequence[Prediction], outcomes: Sequence[str]
    ) -> tuple[list[float], None, list[str], list[int] | None] | None:
        """What :meth:`_rows` finds, for a batch whose every record has a label, a finite confidence and (when it
        feeds the class shares) a class with a detector already: the confidences, the class-share keys and their
        positions (``None``: every record), without a Python loop a record; ``None`` for any other batch."""
        labels = [prediction.label for prediction in predictions]  # comprehensions: slot loads
        confidence = [prediction.confidence for prediction in predictions]
        if None in labels or not math.isfinite(sum(confidence)):  # a sum is finite only when each term is
            return None
        if not self.class_share:
            return confidence, None, [], None
        if self.class_share_of == "predictions":
            share_keys, share_at = labels, None
        else:
            share_at = [position for position, outcome in enumerate(outcomes) if outcome == "label"]
            share_keys = list(map(labels.__getitem__, share_at))
        if not self._class_share.keys() >= set(share_keys):  # a class without a detector: _per_class decides
            return None
        return confidence, None, share_keys, share_at

    def _rows(
        self, predictions: Sequence[Prediction], outcomes: Sequence[str]
    ) -> tuple[list[float], list[int], list[str], list[int], dict[str, int]]:
        """Record by record: the finite confidences of records with a label and their positions, the class-share
        key of each record that feeds them and its position, and the class-share detectors made in this batch
        with the position of their first record among those keys."""
        shares = self.class_share
        every = self.class_share_of == "predictions"
        confidence: list[float] = []
        confidence_at: list[int] = []
        share_keys: list[str] = []  # the class-share key of each record that feeds them, in order
        share_at: list[int] = []
        born: dict[str, int] = {}
        detectors = self._class_share
        for position, (prediction, outcome) in enumerate(zip(predictions, outcomes, strict=True)):
            label = prediction.label
            if label is None or not math.isfinite(prediction.confidence):  # a poison record's NaN
                continue
            confidence.append(prediction.confidence)
            confidence_at.append(position)
            if shares and (every or outcome == "label"):
                if label in detectors:  # a class seen before: its own detector (what _per_class answers)
                    key = label
                else:
                    known = len(detectors)
                    key, _ = self._per_class(detectors, CLASS_SHARE, label, "both", per_record=True)
                    if len(detectors) > known:
                        born[key] = len(share_keys)
                share_keys.append(key)
                share_at.append(position)
        return confidence, confidence_at, share_keys, share_at, born

    @staticmethod
    def _collect(
        found: list, rank: int, detector: Detector, values: list[float], positions: list[int] | None, start: int,
        timestamps: Sequence[float | None],
    ) -> None:
        """Feed ``detector`` the values of the records at ``positions`` of the batch (``None``: every record)."""
        if positions is None:
            indexes, stamps = range(start + 1, start + 1 + len(values)), timestamps
        else:
            indexes = list(map((start + 1).__add__, positions))  # mapped in C
            stamps = list(map(timestamps.__getitem__, positions))
        for detection in detector.update_many(values, indexes, stamps):
            found.append((detection.index - start - 1, rank, detection))

    def update_features(self, features: Mapping[str, object], timestamp: float | None = None) -> list[Detection]:
        """A record's numeric features (nothing unless ``features`` is on); call before ``update_prediction``.

        A missing value (``None``, NaN, an infinity: the rule of :mod:`labelstream.core.featurizer`) is
        skipped, as an absent feature is: it is no observation of the feature's level, and one NaN in an
        ADWIN window would make its mean NaN and hide every later change.
        """
        if not self.features:
            return []
        found: list[Detection] = []
        for name, value in features.items():
            if type(value) is str or value is None or value - value != 0.0:  # categorical, or missing (None, NaN, inf)
                continue
            detector = self._features.get(name)
            if detector is None:
                if len(self._features) >= self.max_features:
                    continue
                detector = self._features[name] = self._detector(FEATURE + name, "both", per_record=True)
            self._add(found, detector.update(float(value), self.n_records + 1, timestamp))
        return found

    def estimates(self) -> dict[str, float]:
        """Each detector's current estimate (error rate, mean confidence, class shares, feature means)."""
        detectors = [*self._error.values(), self._confidence, *self._class_share.values(), *self._features.values()]
        return {d.name: d.estimate for d in detectors if d.updates}

    def detector_names(self) -> list[str]:
        """The detectors that exist now (class and feature detectors appear as values arrive)."""
        names = [CONFIDENCE] if self.confidence else []
        return names + [d.name for d in (*self._error.values(), *self._class_share.values(), *self._features.values())]

    def _per_class(
        self, detectors: dict[str, Detector], prefix: str, label: str, alarm_on: AlarmOn, per_record: bool
    ) -> tuple[str, Detector]:
        """The class's key and detector, created on first sight; past ``max_classes`` classes share ``__other__``."""
        if label not in detectors and len(detectors) >= self.max_classes:
            label = OTHER
        detector = detectors.get(label)
        if detector is None:
            detector = detectors[label] = self._detector(prefix + label, alarm_on, per_record)
        return label, detector

    @staticmethod
    def _add(found: list[Detection], detection: Detection | None) -> None:
        if detection is not None:
            found.append(detection)
