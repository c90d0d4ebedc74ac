"""Prometheus metrics of the labeling functions, read from the engine at scrape time.

Registered once on a service's :class:`~labelstream.metrics.Metrics`
(:func:`register_weak_metrics`); each scrape reads the engine's
:class:`~labelstream.core.weak.WeakSupervision` counts, so the hot path does
no metric work for LFs. Series (label ``lf``: the LF's name):

- ``labelstream_lf_votes_total``: votes cast on routed records (counter);
- ``labelstream_lf_failures_total{kind}``: calls that counted as abstaining,
  ``kind`` = ``error`` (raised), ``slow`` (over ``weak.call_timeout_ms``),
  ``timeout`` (past the batch deadline), ``skipped`` (suspended);
- ``labelstream_lf_coverage_ratio``, ``_overlap_ratio``, ``_conflict_ratio``
  ``{over}``: over the records this service routed (``over="routed"``,
  labeler) or the answered records (``over="answered"``, learner);
- ``labelstream_lf_empirical_accuracy_ratio``: share of votes that matched the
  human answer; ``labelstream_lf_learned_accuracy_ratio``: the label model's
  estimate; ``labelstream_lf_suspended``: 1 while skipped after a timeout.

>>> from labelstream.core.engine import LabelingEngine
>>> from labelstream.core.model import OnlineModel
>>> from labelstream.core.policy import ThresholdPolicy
>>> from labelstream.core.schemas import Record
>>> from labelstream.core.weak import LabelingFunction, WeakSupervision
>>> from labelstream.metrics import Metrics
>>> lf = LabelingFunction("always_yes", lambda record: "yes")
>>> engine = LabelingEngine(OnlineModel(), ThresholdPolicy(), weak=WeakSupervision.build([lf], batch_timeout=None))
>>> metrics = Metrics(service="labeler")
>>> register_weak_metrics(metrics, engine)
>>> _ = engine.process([Record(id="1", features={"x": 1.0})])
>>> metrics.value("labelstream_lf_votes_total", lf="always_yes"), metrics.value("labelstream_lf_coverage_ratio", lf="always_yes", over="routed")
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from labelstream.metrics import Metrics

FAILURE_KINDS = {"error": "errors", "slow": "slow", "timeout": "timed_out", "skipped": "skipped"}


class WeakCollector(Collector):
    """Yields the LF series from an engine's weak supervision (nothing when it has none)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        weak = getattr(self.engine, "weak", None)
        if weak is None:
            return
        stats = weak.stats()
        routed = weak.routed.records > 0
        over = "routed" if routed else "answered"
        shares = weak.routed.summary() if routed else weak.answered.summary()
        votes = CounterMetricFamily("labelstream_lf_votes", "Votes cast by each labeling function on routed records.", labels=["lf"])
        failures = CounterMetricFamily(
            "labelstream_lf_failures", "Labeling function calls counted as abstaining, by kind.", labels=["lf", "kind"]
        )
        gauges = {
            key: GaugeMetricFamily(f"labelstream_lf_{key}_ratio", text, labels=["lf", "over"])
            for key, text in (
                ("coverage", "Share of records the LF voted on."),
                ("overlap", "Share of records the LF voted on with another LF voting too."),
                ("conflict", "Share of records the LF voted on with another LF voting a different label."),
            )
        }
        empirical = GaugeMetricFamily(
            "labelstream_lf_empirical_accuracy_ratio", "Share of the LF's votes that matched the human answer.", labels=["lf"]
        )
        learned = GaugeMetricFamily(
            "labelstream_lf_learned_accuracy_ratio", "The label model's estimate of the LF's accuracy.", labels=["lf"]
        )
        suspended = GaugeMetricFamily("labelstream_lf_suspended", "1 while the LF is skipped after a timeout.", labels=["lf"])
        for name, row in stats.items():
            votes.add_metric([name], float(row["votes"]))
            for kind, key in FAILURE_KINDS.items():
                failures.add_metric([name, kind], float(row[key]))
            for key, family in gauges.items():
                value = shares[name][key]
                if value is not None:
                    family.add_metric([name, over], value)
            if row["empirical_accuracy"] is not None:
                empirical.add_metric([name], row["empirical_accuracy"])
            if row["learned_accuracy"] is not None:
                learned.add_metric([name], row["learned_accuracy"])
            suspended.add_metric([name], float(row["suspended"]))
        yield from (votes, failures, *gauges.values(), empirical, learned, suspended)

    def describe(self) -> Iterator[Any]:
        return iter(())  # no fixed series: registration does not call collect()


def register_weak_metrics(metrics: Metrics, engine: Any) -> None:
    """Export the LF series of ``engine`` (a :class:`~labelstream.core.engine.LabelingEngine`) on ``metrics``."""
    metrics.registry.register(WeakCollector(engine))
