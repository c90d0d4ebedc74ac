"""Drift detection on river's SEA stream, driven through the real engine with an oracle reviewer."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from river.datasets import synth

from labelstream.core.challenger import Challenger
from labelstream.core.drift import Detection, Detector, DriftMonitor
from labelstream.core.engine import LabelingEngine
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Evidence, Prediction, ThresholdPolicy
from labelstream.core.reaction import DriftReaction
from labelstream.core.schemas import Record
from labelstream.settings import load_settings

CHANGE = 5000
LENGTH = 10_000


def sea_stream(seed: int, before: int, after: int) -> list[tuple[dict[str, float], str]]:
    """SEA ``before`` variant for CHANGE records, then ``after`` (an abrupt concept drift when they differ)."""
    rows = itertools.chain(
        synth.SEA(variant=before, seed=seed).take(CHANGE), synth.SEA(variant=after, seed=seed + 1).take(LENGTH - CHANGE)
    )
    return [({str(k): float(v) for k, v in x.items()}, str(y)) for x, y in rows]


def run(stream, reaction: DriftReaction | None = None, seed: int = 1):
    """Route every record; a perfect reviewer answers the reviewed ones. Returns (detections, correct flags)."""
    engine = LabelingEngine(OnlineModel(seed=seed), ThresholdPolicy(0.9, 100, 50), monitor=DriftMonitor())
    detections: list[Detection] = []
    correct: list[bool] = []
    for i, (features, label) in enumerate(stream):
        (routed,) = engine.process([Record(id=str(i), features=features)])
        correct.append(routed.prediction.label == label)
        if routed.decision.outcome == "review":
            if reaction is not None:
                x = engine.featurizer.transform_one(features)
                reaction.observe_answer(x, label, Prediction.from_probabilities(engine.model.predict_proba_one(x)).label)
            engine.learn(features, label, Evidence(routed.prediction, label))
        for detection in engine.drain_detections():
            detections.append(detection)
            if reaction is not None:
                reaction.react(detection, engine.policy)
        winner = reaction.take_winner() if reaction is not None else None
        if winner is not None:
            engine.swap_model(winner, engine.featurizer, engine.policy.learned_state(), engine.model_version + 1)
            engine.monitor.restart_prediction_detectors()
    return detections, correct


@pytest.mark.parametrize(("seed", "before", "after"), [(1, 0, 1), (2, 0, 3), (3, 2, 3)])
def test_error_detector_fires_within_1000_records_of_a_sea_drift(seed, before, after):
    detections, _ = run(sea_stream(seed, before, after), seed=seed)
    errors = [d for d in detections if d.detector.startswith("error:")]
    assert errors, detections
    assert all(d.index >= CHANGE for d in detections), "a detection before the change is a false alarm"
    first = errors[0]
    assert first.index - CHANGE <= 1000
    assert first.direction == "increase" and first.estimate_after > first.estimate_before


def test_false_alarms_on_stationary_streams_are_rare():
    """100,000 stationary records (10 seeds): at most one detection of any detector (measured: one, error:True)."""
    alarms = [(seed, d.detector, d.index) for seed in range(1, 11) for d in run(sea_stream(seed, 0, 0), seed=seed)[0]]
    assert len(alarms) <= 1, alarms


def confident_engine(seed: int = 1) -> tuple[LabelingEngine, random.Random]:
    """An engine whose model learned SEA variant 0 (class: x1 + x2 > 8) from 3,000 answers, with a fresh monitor."""
    engine = LabelingEngine(OnlineModel(seed=seed), ThresholdPolicy(0.9, 0, 0), monitor=DriftMonitor(warmup=300))
    for features, label in sea_stream(seed, 0, 0)[:3000]:
        engine.learn(features, label)
    return engine, random.Random(seed)


def route(engine: LabelingEngine, rows: list[dict[str, float]]) -> list[Detection]:
    for i in range(0, len(rows), 100):
        engine.process([Record(id=str(i + j), features=x) for j, x in enumerate(rows[i : i + 100])])
    return engine.drain_detections()


def test_confidence_detector_fires_when_records_move_to_the_decision_boundary():
    engine, rng = confident_engine()
    far = [{"0": rng.uniform(0, 3), "1": rng.uniform(0, 3), "2": rng.uniform(0, 10)} for _ in range(3000)]
    assert route(engine, far) == []
    near = []
    for _ in range(2000):
        x0 = rng.uniform(0, 8)
        near.append({"0": x0, "1": 8 - x0 + rng.gauss(0, 0.5), "2": rng.uniform(0, 10)})
    detections = route(engine, near)
    confidence = [d for d in detections if d.detector == "confidence"]
    assert confidence and confidence[0].direction == "decrease"
    assert 3000 < confidence[0].index <= 3500


def test_class_share_detectors_fire_when_the_class_mix_changes():
    engine, rng = confident_engine()
    mixed = [{"0": rng.uniform(0, 10), "1": rng.uniform(0, 10), "2": rng.uniform(0, 10)} for _ in range(3000)]
    assert route(engine, mixed) == []
    low = [{"0": rng.uniform(0, 4), "1": rng.uniform(0, 4), "2": rng.uniform(0, 10)} for _ in range(2000)]
    detections = {}
    for detection in route(engine, low):  # SEA's class is x1 + x2 > 8: low sums are "False"
        detections.setdefault(detection.detector, detection)
    assert detections["class_share:False"].direction == "increase"
    assert detections["class_share:True"].direction == "decrease"
    assert detections["class_share:False"].index <= 3500


def test_feature_detectors_are_off_by_default_and_fire_when_on():
    rows = [{"x": 0.0}] * 1000 + [{"x": 5.0}] * 500
    assert not any(DriftMonitor().update_features(row) for row in rows)
    monitor = DriftMonitor(features=True, warmup=100)
    found = [d for row in rows for d in monitor.update_features(row)]
    assert [d.detector for d in found] == ["feature:x"] and found[0].direction == "increase"


def test_error_falling_is_not_an_alarm_and_warmup_hides_the_learning_curve():
    rng = random.Random(5)
    monitor = DriftMonitor(warmup=0)
    found = [d for i in range(4000) for d in monitor.update_error(rng.random() < (0.6 if i < 2000 else 0.97), "a")]
    assert found == []
    assert monitor.estimates()["error:a"] < 0.1


def test_class_detectors_are_capped():
    monitor = DriftMonitor(max_classes=3)
    for i in range(100):
        monitor.update_prediction(Prediction.from_probabilities({f"c{i % 10}": 1.0}), "label")
        monitor.update_error(True, f"c{i % 10}")
    names = monitor.detector_names()
    assert [n for n in names if n.startswith("class_share:")] == [f"class_share:{c}" for c in ("c0", "c1", "c2", "__other__")]
    assert [n for n in names if n.startswith("error:")] == [f"error:{c}" for c in ("c0", "c1", "c2", "__other__")]
    assert monitor.estimates()["class_share:__other__"] == pytest.approx(0.7, abs=0.05)


def test_engine_without_monitor_behaves_as_before():
    engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.9, 0, 0))
    engine.learn({"x": 1.0}, "a", Evidence(Prediction.from_probabilities({}), "a"))
    assert engine.process([Record(id="1", features={"x": 1.0})])[0].decision.outcome == "label"
    assert engine.drain_detections() == [] and engine.monitor is None


def test_challenger_recovers_accuracy_faster_after_a_drift():
    """The same SEA drift with and without the challenger: it must swap in and beat the champion alone."""
    stream = sea_stream(2, 0, 3)
    drift = load_settings().drift
    reaction = DriftReaction(challenger=Challenger(lambda: OnlineModel(seed=2), min_evaluations=drift.challenger_min_evaluations))
    _, alone = run(stream, seed=2)
    _, helped = run(stream, reaction, seed=2)
    window = slice(CHANGE + 500, CHANGE + 2000)
    accuracy_alone = sum(alone[window]) / 1500
    accuracy_helped = sum(helped[window]) / 1500
    assert accuracy_helped > accuracy_alone + 0.03, (accuracy_alone, accuracy_helped)


def test_reaction_and_monitor_from_settings():
    settings = load_settings(drift={"challenger": False, "features": True, "warmup": 10})
    monitor = DriftMonitor.from_settings(settings.drift)
    assert monitor.features and monitor.warmup == 10
    reaction = DriftReaction.from_settings(settings.drift, settings.model)
    assert reaction.challenger is None
    assert DriftReaction.from_settings(load_settings().drift, settings.model).challenger is not None


def test_a_non_finite_confidence_is_ignored():
    from labelstream.core.drift import DriftMonitor
    from labelstream.core.policy import Prediction

    monitor = DriftMonitor(prediction_warmup=0)
    poison = Prediction({"a": float("nan"), "b": float("nan")}, "a", float("nan"))
    assert monitor.update_prediction(poison, "label") == []
    assert all(math.isfinite(v) or math.isnan(v) for v in monitor.estimates().values())
    assert not any(math.isnan(v) for k, v in monitor.estimates().items() if k.startswith("confidence"))


def test_missing_feature_values_are_ignored_by_the_feature_detectors():
    """None, NaN and infinities are missing (the rule of ``labelstream.core.featurizer``): the feature detectors skip
    them — no crash, no NaN in ADWIN's window (which would hide every later change) — and still find a real shift."""
    missing = [None, float("nan"), float("inf"), float("-inf")]
    rows = [{"x": missing[i % 4] if i % 5 == 0 else (0.0 if i < 1000 else 5.0), "gone": missing[i % 4]} for i in range(1500)]
    monitor = DriftMonitor(features=True, prediction_warmup=100)
    found = [d for row in rows for d in monitor.update_features(row)]
    assert [d.detector for d in found] == ["feature:x"] and found[0].direction == "increase"
    assert monitor.detector_names() == ["confidence", "feature:x"]  # no detector for a feature never present
    assert monitor._features["x"].updates == 1200 and math.isfinite(monitor.estimates()["feature:x"])
    engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.9, 0, 0), monitor=DriftMonitor(features=True))
    (routed,) = engine.process([Record.model_construct(id="a", features={"x": None, "y": float("nan"), "z": 1.0})])
    assert routed.decision.outcome and engine.monitor._features.keys() == {"z"}


def _stream(rng: random.Random, n: int) -> list[float]:
    """Values whose level moves abruptly a few times (so that ADWIN detects, resets and detects again)."""
    values, level = [], 0.2
    for i in range(n):
        if i % 1500 == 0:
            level = rng.choice([0.1, 0.2, 0.5, 0.8])
        values.append(float(rng.random() < level) if i % 2 else rng.gauss(level, 0.1))
    return values


@pytest.mark.parametrize(("clock", "grace_period", "delta"), [(16, 30, 0.0002), (32, 10, 0.002), (1, 5, 0.01), (5, 100, 0.002)])
def test_detector_reports_what_rivers_adwin_detects_value_by_value(clock, grace_period, delta):
    """The detector drives river's ADWIN engine directly and reads the window only on clock ticks: every
    detection (when, the window's width, the means before and after) is what river.drift.ADWIN gives."""
    from river.drift import ADWIN

    values = _stream(random.Random(clock), 12_000)
    adwin = ADWIN(delta=delta, clock=clock, grace_period=grace_period)
    expected = []
    for i, value in enumerate(values, start=1):
        drift_before, total, width = adwin.drift_detected, adwin.total, adwin.width
        adwin.update(value)
        if adwin.drift_detected and not drift_before:
            dropped = width + 1 - adwin.width
            expected.append((i, adwin.width, (total + value - adwin.total) / dropped, adwin.estimation))
    assert len(expected) >= 3  # the stream moves: detections, resets, detections again

    one = Detector("x", "both", delta, clock, grace_period)
    found_one = [d for d in (one.update(v) for v in values) if d]
    many = Detector("x", "both", delta, clock, grace_period)
    rng, found_many, at = random.Random(1), [], 0
    while at < len(values):
        size = rng.choice([1, 7, 100, 2000])
        found_many += many.update_many(values[at:at + size], range(at + 1, at + size + 1))
        at += size
    for found in (found_one, found_many):
        assert [(d.index, d.window, d.estimate_before, d.estimate_after) for d in found] == expected
    assert one.estimate == many.estimate == adwin.estimation


@pytest.mark.parametrize("class_share_of", ["auto_labels", "predictions"])
def test_batched_prediction_updates_give_the_per_record_detections(class_share_of):
    """update_predictions on batches of any size == update_prediction record by record: the same detections in
    the same order, the same estimates (class mix and confidence shifting, new classes mid-batch, the class cap,
    poison NaNs, predictions without a label)."""
    rng = random.Random(5)
    classes = ["a", "b", "c", "d", "e"]
    predictions, outcomes, timestamps = [], [], []
    for i in range(20_000):
        phase = i // 4000
        label = rng.choice(classes[: 2 + phase]) if rng.random() < 0.7 else classes[phase % 2]
        confidence = rng.uniform(0.5, 1.0) if phase % 2 == 0 else rng.uniform(0.4, 0.7)
        if rng.random() < 0.01:
            predictions.append(Prediction({}, None, 0.0))
        elif rng.random() < 0.01:
            predictions.append(Prediction({label: math.nan}, label, math.nan))
        else:
            predictions.append(Prediction({label: confidence}, label, confidence))
        outcomes.append(rng.choice(["label", "label", "label", "review", "deferred"]))
        timestamps.append(None if i % 3 else 1000.0 + i)

    def monitor() -> DriftMonitor:
        return DriftMonitor(class_share_of=class_share_of, prediction_warmup=500, max_classes=4, clock=8)

    one = monitor()
    expected = [d for p, o, t in zip(predictions, outcomes, timestamps, strict=True) for d in one.update_prediction(p, o, t)]
    assert len({d.detector for d in expected}) >= 3
    batched, found, at = monitor(), [], 0
    while at < len(predictions):
        size = rng.choice([1, 3, 64, 500, 2000])
        found += batched.update_predictions(predictions[at:at + size], outcomes[at:at + size], timestamps[at:at + size])
        at += size
    assert found == expected
    assert batched.estimates() == one.estimates()
    assert batched.detector_names() == one.detector_names()
    assert batched.n_records == one.n_records


class _ScriptedWindow:
    """A window whose update answers True on the values listed (between clock ticks too, which river's never does)."""

    def __init__(self, log: list, detects: set) -> None:
        self.log, self.detects, self.total, self.width = log, detects, 0.0, 0
        self.serial = sum(1 for entry in log if entry[1] is None)
        log.append((self.serial, None))  # a window made

    def update(self, value: float) -> bool:
        self.log.append((self.serial, value))
        self.total, self.width = self.total + value, self.width + 1
        return value in self.detects

    def get_total(self) -> float:
        return self.total

    def get_width(self) -> int:
        return self.width


@pytest.mark.parametrize("clock", [1, 3, 32])
def test_update_many_resets_the_window_after_any_update_that_detects_as_update_does(clock, monkeypatch):
    """update_many feeds the values between clock ticks in C and stops at one whose update detects: the same
    windows, the same values in each, the same detections and state as update() value by value."""
    detects = {3.0, 4.0, 40.0, 41.0, 77.0}
    values = [float(v) for v in range(1, 200)]
    runs = []
    for sizes in ([1] * len(values), [5, 1, 31, 64, 2, 96]):
        log: list = []
        monkeypatch.setattr(Detector, "_new_window", lambda self, log=log: (
            setattr(self, "_window", _ScriptedWindow(log, detects)), setattr(self, "_ticks", 0)))
        detector = Detector("x", "both", clock=clock)
        found, at = [], 0
        for size in sizes:
            found += detector.update_many(values[at:at + size], range(at + 1, at + size + 1))
            at += size
        runs.append((log,
                     [(d.index, d.window, d.estimate_before, d.estimate_after) for d in found],
                     detector.updates, detector._ticks, detector._detected))
    one: list = []
    monkeypatch.setattr(Detector, "_new_window", lambda self: (
        setattr(self, "_window", _ScriptedWindow(one, detects)), setattr(self, "_ticks", 0)))
    detector = Detector("x", "both", clock=clock)
    found = [d for d in (detector.update(v, i) for i, v in enumerate(values, start=1)) if d]
    expected = (one,
                [(d.index, d.window, d.estimate_before, d.estimate_after) for d in found],
                detector.updates, detector._ticks, detector._detected)
    assert runs[0] == runs[1] == expected
    assert sum(1 for _, value in one if value is None) > 3  # windows reset after detections
