"""Drift detection on river's SEA stream, driven through the real engine with an oracle reviewer."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from river.datasets import synth

from labelstream.core.challenger import Challenger
from labelstream.core.drift import Detection, DriftMonitor
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
