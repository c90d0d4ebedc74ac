"""Prometheus metrics of label-error detection (``label_errors``), read from the learner's engine at scrape time.

The counts live in the detector's state, which every model version ships:
after a restart they resume from the last version (a Prometheus counter reset
at worst, never a double count). Series:

- ``labelstream_label_errors_checked_total``: answers the detector judged;
- ``labelstream_label_errors_flagged_total``: answers held for a second review;
- ``labelstream_label_errors_resolved_total{result}``: second reviews done,
  ``result`` = ``confirmed`` (the consensus kept the first answer) or
  ``overturned``;
- ``labelstream_label_errors_threshold{class}``: each class's
  confident-learning threshold (the model's mean confidence on its answers).

>>> from labelstream.core.engine import LabelingEngine
>>> from labelstream.core.label_errors import LabelErrorDetector
>>> from labelstream.core.model import OnlineModel
>>> from labelstream.core.policy import ThresholdPolicy
>>> from labelstream.metrics import Metrics
>>> engine = LabelingEngine(OnlineModel(), ThresholdPolicy(), label_errors=LabelErrorDetector(min_answers=1))
>>> metrics = Metrics(service="learner")
>>> register_label_error_metrics(metrics, engine)
>>> engine.label_errors.learn_one({"a": 0.8, "b": 0.2}, "a", flagged=True)
>>> metrics.value("labelstream_label_errors_flagged_total"), metrics.value("labelstream_label_errors_threshold", **{"class": "a"})
(1.0, 0.8)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from labelstream.core.label_errors import OUTCOMES
from labelstream.metrics import Metrics


class LabelErrorCollector(Collector):
    """Yields the label-error series of an engine's detector (nothing when detection is off)."""

    def __init__(self, engine: Any, max_classes: int = 50) -> None:
        self.engine = engine
        self.max_classes = max_classes

    def collect(self) -> Iterator[Any]:
        detector = getattr(self.engine, "label_errors", None)
        if detector is None:
            return
        counts = detector.counts()
        checked = CounterMetricFamily("labelstream_label_errors_checked", "Human answers the label-error detector judged.")
        checked.add_metric([], float(counts["checked"]))
        flagged = CounterMetricFamily(
            "labelstream_label_errors_flagged", "Answers a confident model contradicted, held for a second review."
        )
        flagged.add_metric([], float(counts["flagged"]))
        resolved = CounterMetricFamily(
            "labelstream_label_errors_resolved", "Second reviews consolidated, by result (confirmed or overturned).",
            labels=["result"],
        )
        for result in OUTCOMES:
            resolved.add_metric([result], float(counts[result]))
        thresholds = GaugeMetricFamily(
            "labelstream_label_errors_threshold", "Confident-learning threshold per class (mean self-confidence).",
            labels=["class"],
        )
        for label, value in sorted(detector.thresholds().items())[: self.max_classes]:
            thresholds.add_metric([label], value)
        yield from (checked, flagged, resolved, thresholds)

    def describe(self) -> Iterator[Any]:
        return iter(())  # no fixed series: registration does not call collect()


def register_label_error_metrics(metrics: Metrics, engine: Any) -> None:
    """Export the label-error series of ``engine`` (a :class:`~labelstream.core.engine.LabelingEngine`) on ``metrics``."""
    metrics.registry.register(LabelErrorCollector(engine))
