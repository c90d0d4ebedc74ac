"""A small in-process workload that updates the real metrics of a labeler and a learner.

It is not a mock of the services: it runs the real core (engine, threshold
policy, drift monitor) over river's SEA stream with an abrupt drift in the
middle and a perfect reviewer, and reports through :class:`labelstream.metrics.Metrics`
exactly the way the services are meant to, one helper call per event. Kafka is
absent, so the consumer lag and backlogs are what a consumer would see: the
records not yet processed and the reviews not yet answered.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter

from river.datasets import synth

from labelstream.core.drift import DriftMonitor
from labelstream.core.engine import LabelingEngine
from labelstream.core.imbalance import ClassMixMonitor
from labelstream.core.label_errors import LabelErrorDetector
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Evidence, ThresholdPolicy
from labelstream.core.schemas import Record
from labelstream.core.self_training import SelfTraining
from labelstream.label_error_metrics import register_label_error_metrics
from labelstream.metrics import OVERALL, Metrics
from labelstream.weak_metrics import register_weak_metrics

TARGET = 0.95


def sea_with_drift(n: int, change: int, seed: int = 1) -> list[tuple[dict[str, float], str]]:
    rows = itertools.chain(synth.SEA(variant=0, seed=seed).take(change), synth.SEA(variant=3, seed=seed + 1).take(n - change))
    return [({str(k): float(v) for k, v in x.items()}, str(y)) for x, y in rows]


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float, float]:
    """Estimate and Wilson score interval of a proportion."""
    if n == 0:
        return math.nan, 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def run_workload(labeler: Metrics, learner: Metrics, seconds: float, n: int = 10_000, batch: int = 100) -> list[str]:
    """Stream ``n`` SEA records (drift at n/2) over about ``seconds``; the drift detectors that fired."""
    engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.9, 100, 50), monitor=DriftMonitor(),
                            label_errors=LabelErrorDetector(min_answers=20), class_mix=ClassMixMonitor(500),
                            self_training=SelfTraining(min_confidence=0.99, weight=0.5, target=TARGET))
    register_label_error_metrics(learner, engine)  # as the learner does with label_errors enabled
    register_weak_metrics(labeler, engine)  # as the labeler does: the class mix of its auto-labels and the answers
    stream = sea_with_drift(n, n // 2)
    audits: dict[str, list[int]] = {}
    fired: list[str] = []
    version, corrections_since, pending = 0, [], 0
    for metrics in (labeler, learner):
        metrics.declare_detectors(["confidence"])
        metrics.set_model(version, time.time(), "default", "logistic", "threshold")
        metrics.precision_target.set(TARGET)
    pause = seconds / (n / batch)
    for start in range(0, n, batch):
        began = time.perf_counter()
        rows = stream[start : start + batch]
        stamp = time.time()
        records = [Record(id=str(start + i), features=x, timestamp=stamp - 0.005) for i, (x, _) in enumerate(rows)]
        labeler.record_received(len(records) + 1)
        labeler.record_invalid("invalid_json")  # one bad message a batch goes to the DLQ
        routed = engine.process(records)
        labeler.record_outcomes(Counter((r.decision.outcome, r.decision.reason) for r in routed))
        labeler.record_auto_labels(Counter(r.prediction.label for r in routed if r.decision.outcome == "label"))
        labeler.observe_batch(len(records), time.perf_counter() - began, [r.timestamp for r in records])
        engine.learn_auto(routed)  # self-training: the learner's part in the services
        labeler.record_commit()  # the batch's transaction committed
        for r, (x, label) in zip(routed, rows, strict=True):
            if r.decision.outcome == "label":
                audits.setdefault(r.prediction.label, []).append(r.prediction.label == label)
            else:
                # the learner checks a human answer before learning it; after the drift a confident model contradicts
                # the (perfect) reviewer, and the second review confirms the first answer
                flag, probabilities = engine.check_answer(x, label)
                engine.label_errors.learn_one(probabilities, label, flagged=flag is not None)
                if flag is not None:
                    engine.label_errors.resolve(flag, label)
                engine.learn(x, label, Evidence(r.prediction, label, timestamp=time.time()))
                corrections_since.append(time.time())
                learner.record_corrections()
        pending = max(0, pending + sum(r.decision.outcome == "review" for r in routed) - len(corrections_since) // 2)
        labeler.set_backlogs(review=pending, deferred=0)
        labeler.set_review_budget_used(min(1.0, engine.model.n_learned / max(1, start + batch) / 0.5))
        labeler.set_consumer_lag("records", {0: (n - start) // 2, 1: (n - start) - (n - start) // 2})
        labeler.set_thresholds({label: 0.9 for label in engine.model.classes})
        for detection in engine.drain_detections():
            (learner if detection.detector.startswith("error:") else labeler).record_drift(detection.detector)
            fired.append(detection.detector)
        estimates = engine.monitor.estimates()
        learner.set_drift_estimates({k: v for k, v in estimates.items() if k.startswith("error:")})
        labeler.set_drift_estimates({k: v for k, v in estimates.items() if not k.startswith("error:")})
        if len(corrections_since) >= 50:  # the learner publishes a model version every 50 corrections
            version += 1
            live = time.time()
            learner.observe_update_latencies(corrections_since, live)
            for metrics in (labeler, learner):
                metrics.set_model(version, live, "default", "logistic", "threshold")
            corrections_since = []
        recent = {label: flags[-500:] for label, flags in audits.items()}
        overall = [flag for flags in recent.values() for flag in flags]
        estimates_by_class = {label: wilson(sum(flags), len(flags)) for label, flags in recent.items()}
        learner.set_precision({OVERALL: wilson(sum(overall), len(overall)), **estimates_by_class})
        time.sleep(max(0.0, pause - (time.perf_counter() - began)))
    return fired
