"""Prometheus metrics of every labelstream service (served by :mod:`labelstream.metrics_server`).

Each service builds one :class:`Metrics` over its own registry (so two
services, or two tests, can live in one process) and updates it with one
call per event: :meth:`Metrics.record_outcomes` after routing a batch,
:meth:`Metrics.observe_batch` for its latency, :meth:`Metrics.set_model` on a
model swap, and so on. Names follow Prometheus conventions: the
``labelstream_`` prefix, ``_total`` counters, base units (seconds, ratios in
[0, 1]). Label values that come from data (class labels, reasons, error kinds,
detectors) are capped by :class:`LabelCap`: past the cap they fold into
``__other__``, so a stream with a million classes cannot blow up Prometheus.

>>> metrics = Metrics(service="labeler")
>>> metrics.record_outcomes({("label", "confident"): 8, ("review", "uncertain"): 2})
>>> metrics.value("labelstream_record_outcomes_total", outcome="label", reason="confident")
8.0
>>> metrics.value("labelstream_coverage_ratio")
0.8
>>> metrics.set_thresholds({"cat": 0.91, "dog": None})
>>> metrics.value("labelstream_auto_accept_threshold", **{"class": "dog"})
inf
"""

from __future__ import annotations

import math
import platform
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from labelstream.metrics_server import HealthCheck, start_metrics_server, stop_metrics_server
from labelstream.settings import MetricsSettings

# The server lives in labelstream.metrics_server; importable from here too, as it always was.
__all__ = [
    "OTHER", "OVERALL", "BATCH_RETRY_REASONS", "CoverageWindow", "HealthCheck", "LabelCap", "Metrics", "all_metric_names",
    "metric_names", "package_version", "start_metrics_server", "stop_metrics_server",
]

# `_created` series double the sample count and no panel or alert uses them.
disable_created_metrics()

OTHER = "__other__"
OVERALL = "__all__"
"""Class label value of the overall (all classes) precision estimate."""

# Hot path batches take 1-50 ms; the record latency (record timestamp -> outcome) adds queueing.
BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RECORD_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
UPDATE_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

INITIAL_OUTCOMES = (("label", "confident"), ("review", "uncertain"), ("review", "audit"), ("deferred", "over_budget"))
BATCH_RETRY_REASONS = ("broker", "redis", "producer", "rebalance", "consumer", "poison", "bisect")
"""Why a labeler batch was aborted and redone: the broker (or coordinator) away, Redis away, the producer
fenced or broken (replaced), the group rebalancing, the consumer replaced, an output the broker refused
(its input dead-lettered by reference), a failure that named no culprit (the batch bisected)."""

def package_version() -> str:
    """The installed labelstream version (``unknown`` from a bare checkout)."""
    try:
        return version("labelstream")
    except PackageNotFoundError:
        return "unknown"


class LabelCap:
    """Keeps the first ``limit`` distinct values of a label; later ones become ``__other__``.

    >>> cap = LabelCap(limit=2)
    >>> [cap(v) for v in ("a", "b", "c", "a")]
    ['a', 'b', '__other__', 'a']
    """

    def __init__(self, limit: int, max_length: int = 64) -> None:
        self.limit = limit
        self.max_length = max_length
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: object) -> str:
        text = str(value)[: self.max_length]
        if text in self._seen:
            return text
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(text)
                return text
        return OTHER


class CoverageWindow:
    """Auto share over the last ``size`` records, fed with per-batch counts (O(1) per batch).

    Whole batches leave the window, so it spans between ``size`` and
    ``size`` + one batch records.

    >>> window = CoverageWindow(size=10)
    >>> window.add(auto=10, total=10); window.add(auto=0, total=10); window.ratio()
    0.0
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._batches: deque[tuple[int, int]] = deque()
        self._auto = 0
        self._total = 0

    def add(self, auto: int, total: int) -> None:
        self._batches.append((auto, total))
        self._auto += auto
        self._total += total
        while self._batches and self._total - self._batches[0][1] >= self.size:
            old_auto, old_total = self._batches.popleft()
            self._auto -= old_auto
            self._total -= old_total

    def ratio(self) -> float:
        """Auto-labeled / routed in the window (NaN before any record)."""
        return self._auto / self._total if self._total else math.nan


class Metrics:
    """Every labelstream metric on one registry, with one-call helpers for the services.

    ``registry`` defaults to a fresh one (never the global default), with the
    process, platform and GC collectors. ``max_class_labels`` caps the
    distinct class labels (and drift detectors) exported; the rest fold into
    ``__other__``. A service without a model (the review app) passes
    ``tracks_model=False`` and exports no ``labelstream_model_*`` series, so
    that the stale-model alert does not fire on it.
    """

    def __init__(
        self,
        service: str,
        registry: CollectorRegistry | None = None,
        max_class_labels: int = 50,
        coverage_window_records: int = 1000,
        latency_samples_per_batch: int = 100,
        tracks_model: bool = True,
    ) -> None:
        self.service = service
        self.registry = registry or _service_registry()
        self.latency_samples_per_batch = latency_samples_per_batch
        self.class_label = LabelCap(max_class_labels)
        self.detector_label = LabelCap(max_class_labels + 10)
        self.reason_label = LabelCap(30)
        self.error_kind_label = LabelCap(30)
        self._coverage = CoverageWindow(coverage_window_records)
        self._started_at = time.time()
        self._model_created_at: float | None = None
        self._threshold_classes: set[str] = set()
        self._precision_classes: set[str] = set()
        self._lag_series: set[tuple[str, str]] = set()
        self._define(self.registry, self.registry if tracks_model else None)
        self.build_info.info({"service": service, "version": package_version(), "python": platform.python_version()})
        for outcome, reason in INITIAL_OUTCOMES:  # zero series, so that rates exist before the first record
            self.record_outcomes_total.labels(outcome, reason)
        self.corrections.labels("learned")
        for reason in BATCH_RETRY_REASONS:
            self.batch_retries.labels(reason)
        for gauge in (self.precision_target, self.review_budget_used, self.review_backlog, self.deferred_backlog):
            gauge.set(math.nan)  # "not reported by this service", not a misleading 0

    @classmethod
    def from_settings(cls, service: str, settings: MetricsSettings, registry: CollectorRegistry | None = None) -> Metrics:
        """Metrics with the caps and window of the ``metrics`` settings section."""
        return cls(
            service,
            registry,
            max_class_labels=settings.max_class_labels,
            coverage_window_records=settings.coverage_window_records,
            latency_samples_per_batch=settings.latency_samples_per_batch,
        )

    def declare_detectors(self, detectors: Iterable[str]) -> None:
        """Zero series for each drift detector, so that an alert on ``increase()`` sees the first drift."""
        for detector in detectors:
            self.drift_detections.labels(self.detector_label(detector))

    def _define(self, r: CollectorRegistry, model_r: CollectorRegistry | None) -> None:
        self.build_info = Info("labelstream_build", "Service name and labelstream version.", registry=r)
        self.model_info = Info("labelstream_model", "The model in use: name, kind and policy.", registry=model_r)
        self.model_version = Gauge(
            "labelstream_model_version", "Version of the model in use (0: none yet).", registry=model_r
        )
        self.model_created = Gauge(
            "labelstream_model_created_timestamp_seconds", "When the model in use was published.", registry=model_r
        )
        self.model_age = Gauge(
            "labelstream_model_age_seconds",
            "Seconds since the model in use was published (since service start while there is none).",
            registry=model_r,
        )
        self.model_age.set_function(self._model_age)
        self.records_received = Counter("labelstream_records_received_total", "Records consumed.", registry=r)
        self.record_outcomes_total = Counter(
            "labelstream_record_outcomes_total", "Valid records by outcome and reason.", ["outcome", "reason"], registry=r
        )
        self.auto_labels = Counter(
            "labelstream_auto_labels_total", "Auto-labels by predicted class.", ["class"], registry=r
        )
        self.records_invalid = Counter(
            "labelstream_records_invalid_total", "Invalid records sent to the DLQ, by error kind.", ["error_kind"], registry=r
        )
        self.records_evolved = Counter(
            "labelstream_records_evolved_total",
            "Records that arrived with fields the schema does not know or a newer minor schema version.",
            registry=r,
        )
        self.precision_estimate = Gauge(
            "labelstream_auto_precision_estimate",
            "Audit estimate of auto-label precision in this calibration generation, per class (__all__: overall).",
            ["class"],
            registry=r,
        )
        self.precision_lower = Gauge(
            "labelstream_auto_precision_lower_bound", "Lower confidence bound of the precision estimate.", ["class"], registry=r
        )
        self.precision_upper = Gauge(
            "labelstream_auto_precision_upper_bound", "Upper confidence bound of the precision estimate.", ["class"], registry=r
        )
        self.precision_target = Gauge(
            "labelstream_auto_precision_target", "The precision target the user set.", registry=r
        )
        self.precision_cumulative = Gauge(
            "labelstream_auto_precision_cumulative",
            "Audit estimate of auto-label precision over every generation (stat: estimate, lower, upper).",
            ["stat"],
            registry=r,
        )
        self.calibration_generation = Gauge(
            "labelstream_calibration_generation", "Calibration generation (a new one after each drift reset).", registry=r
        )
        self.reviewer_accuracy = Gauge(
            "labelstream_policy_reviewer_accuracy",
            "Reviewer accuracy the precision contract's agreement bar assumes (1: none): the least of "
            "policy.reviewer_accuracy and the bounds measured from overlap items (policy.reviewer_accuracy_from_overlap) "
            "and gold items (policy.reviewer_accuracy_from_gold).",
            registry=r,
        )
        self.policy_paused = Gauge(
            "labelstream_policy_paused",
            "1 while the precision contract pauses auto-labeling (recent answers contradict the calibration; "
            "policy.pause_alpha), else 0.",
            registry=r,
        )
        self.thresholds = Gauge(
            "labelstream_auto_accept_threshold",
            "Score threshold to auto-accept a class (+Inf: not auto-accepted).",
            ["class"],
            registry=r,
        )
        self.coverage = Gauge(
            "labelstream_coverage_ratio", "Auto-labeled share of the last N routed records.", registry=r
        )
        self.coverage.set_function(self._coverage.ratio)
        self.review_budget_used = Gauge(
            "labelstream_review_budget_used_ratio", "Share of the review budget used so far.", registry=r
        )
        self.review_backlog = Gauge("labelstream_review_backlog", "Review requests waiting for a human.", registry=r)
        self.deferred_backlog = Gauge("labelstream_deferred_backlog", "Deferred records waiting.", registry=r)
        self.corrections = Counter(
            "labelstream_corrections_total", "Human corrections, by result (learned, unknown_record, ...).", ["result"],
            registry=r,
        )
        self.drift_detections = Counter(
            "labelstream_drift_detections_total", "Drifts detected, by detector.", ["detector"], registry=r
        )
        self.drift_estimate = Gauge(
            "labelstream_drift_estimate", "Current estimate of each drift detector's monitored value.", ["detector"],
            registry=r,
        )
        self.record_latency = Histogram(
            "labelstream_record_latency_seconds",
            "Record timestamp to outcome (sampled: at most N records a batch).",
            buckets=RECORD_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_duration = Histogram(
            "labelstream_batch_duration_seconds", "Time to process one micro-batch.", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_size = Histogram(
            "labelstream_batch_records", "Records per micro-batch.", buckets=BATCH_SIZE_BUCKETS, registry=r
        )
        self.consumer_lag = Gauge(
            "labelstream_consumer_lag_records",
            "Records without a committed outcome, per partition: high watermark minus the group's committed offset.",
            ["topic", "partition"],
            registry=r,
        )
        self._define_labeler_progress(r)
        self.update_latency = Histogram(
            "labelstream_learner_update_latency_seconds",
            "Correction timestamp to the model version that learned it going live.",
            buckets=UPDATE_LATENCY_BUCKETS,
            registry=r,
        )

    def _define_labeler_progress(self, r: CollectorRegistry) -> None:
        """The labeler's transactions (the "stalled labeler" alert reads them with the lag)."""
        self.labeler_last_commit = Gauge(
            "labelstream_labeler_last_commit_timestamp_seconds",
            "Epoch seconds of the last committed transaction (the labeler's start before the first).",
            registry=r,
        )
        # A labeler stuck from its start (a restart into the same stall) must age too: with NaN,
        # time() - NaN > 300 is never true and the stalled-labeler alert could not fire on it.
        self.labeler_last_commit.set(self._started_at if self.service == "labeler" else math.nan)
        self.labeler_commits = Counter(
            "labelstream_labeler_commits_total", "Transactions committed (batches with their offsets).", registry=r
        )
        self.batch_retries = Counter(
            "labelstream_batch_retries_total", "Batches aborted and redone, by reason.", ["reason"], registry=r
        )

    # -- routing -------------------------------------------------------------------------------

    def record_received(self, n: int) -> None:
        """``n`` records consumed (valid or not)."""
        self.records_received.inc(n)

    def record_outcomes(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Count routed records by (outcome, reason) and update the coverage window."""
        auto = total = 0
        for (outcome, reason), n in counts.items():
            self.record_outcomes_total.labels(outcome, self.reason_label(reason)).inc(n)
            total += n
            if outcome == "label":
                auto += n
        if total:
            self._coverage.add(auto, total)

    def record_auto_labels(self, class_counts: Mapping[str, int]) -> None:
        """Count auto-labels by predicted class."""
        for label, n in class_counts.items():
            self.auto_labels.labels(self.class_label(label)).inc(n)

    def record_invalid(self, error_kind: str, n: int = 1) -> None:
        """``n`` records sent to the DLQ for ``error_kind``."""
        self.records_invalid.labels(self.error_kind_label(error_kind)).inc(n)

    def record_evolved(self, n: int = 1) -> None:
        """``n`` records arrived evolved (docs/schema-evolution.md): producers ahead of the schema."""
        self.records_evolved.inc(n)

    def observe_batch(
        self, n_records: int, seconds: float, record_timestamps: Sequence[float | None] = (), now: float | None = None
    ) -> None:
        """One micro-batch: its duration, size, and the latency of (a sample of) its records.

        ``record_timestamps`` are epoch seconds (``None`` entries are skipped);
        at most ``latency_samples_per_batch`` evenly spaced ones are observed.
        """
        self.batch_duration.observe(seconds)
        self.batch_size.observe(n_records)
        if not record_timestamps:
            return
        now = time.time() if now is None else now
        step = max(1, len(record_timestamps) // self.latency_samples_per_batch)
        for ts in record_timestamps[::step]:
            if ts is not None:
                self.record_latency.observe(max(0.0, now - ts))

    def set_consumer_lag(self, topic: str, lags: Mapping[int, int]) -> None:
        """Lag (records) of each assigned partition of ``topic``."""
        for partition, lag in lags.items():
            self.consumer_lag.labels(topic, str(partition)).set(lag)

    def replace_consumer_lag(self, topic: str, lags: Mapping[int, int]) -> None:
        """Lag of exactly these partitions of ``topic``: a partition no longer assigned here is dropped
        (its new owner reports it; two series would double the sum)."""
        current = {labels for labels in self._lag_series if labels[0] == topic}
        fresh = {(topic, str(partition)) for partition in lags}
        for stale in current - fresh:
            self.consumer_lag.remove(*stale)
        self._lag_series = (self._lag_series - current) | fresh
        self.set_consumer_lag(topic, lags)

    # -- labeler progress ----------------------------------------------------------------------

    def record_commit(self, at: float | None = None) -> None:
        """A labeler transaction committed (at epoch ``at``, default now)."""
        self.labeler_commits.inc()
        self.labeler_last_commit.set(time.time() if at is None else at)

    def record_batch_retry(self, reason: str) -> None:
        """A batch aborted, to be redone (see :data:`BATCH_RETRY_REASONS`)."""
        self.batch_retries.labels(self.reason_label(reason)).inc()

    # -- contract ------------------------------------------------------------------------------

    def set_thresholds(self, thresholds: Mapping[str, float | None]) -> None:
        """Per-class auto-accept thresholds (``None``: the class is not auto-accepted)."""
        self._replace(self.thresholds, self._threshold_classes, {
            self.class_label(c): (math.inf if t is None else t) for c, t in thresholds.items()
        })

    def set_precision(
        self, estimates: Mapping[str, tuple[float, float, float]], target: float | None = None
    ) -> None:
        """Audit precision per class as (estimate, lower, upper); key ``__all__`` for overall."""
        capped = {self.class_label(c) if c != OVERALL else OVERALL: e for c, e in estimates.items()}
        for gauge, index in ((self.precision_estimate, 0), (self.precision_lower, 1), (self.precision_upper, 2)):
            self._replace(gauge, set(self._precision_classes), {c: e[index] for c, e in capped.items()})
        self._precision_classes = set(capped)
        if target is not None:
            self.precision_target.set(target)

    def set_calibration(self, generation: int, cumulative: tuple[float, float, float] | None) -> None:
        """The calibration generation and the all-generations audit estimate (estimate, lower, upper)."""
        self.calibration_generation.set(generation)
        if cumulative is not None:
            for stat, value in zip(("estimate", "lower", "upper"), cumulative, strict=True):
                self.precision_cumulative.labels(stat).set(value)

    def set_review_budget_used(self, ratio: float) -> None:
        self.review_budget_used.set(ratio)

    def set_backlogs(self, review: int | None = None, deferred: int | None = None) -> None:
        """Records waiting in review and in deferred (``None``: unchanged)."""
        if review is not None:
            self.review_backlog.set(review)
        if deferred is not None:
            self.deferred_backlog.set(deferred)

    # -- learning and model versions -----------------------------------------------------------

    def record_corrections(self, n: int = 1, result: str = "learned") -> None:
        self.corrections.labels(self.reason_label(result)).inc(n)

    def set_model(self, version: int, created_at: float, model_name: str = "", kind: str = "", policy: str = "") -> None:
        """A model version went live."""
        self.model_version.set(version)
        self.model_created.set(created_at)
        self._model_created_at = created_at
        self.model_info.info({"model_name": model_name, "kind": kind, "policy": policy})

    def observe_update_latencies(self, correction_timestamps: Iterable[float], live_at: float | None = None) -> None:
        """Corrections learned by the model version that went live at ``live_at`` (default now)."""
        live_at = time.time() if live_at is None else live_at
        for ts in correction_timestamps:
            self.update_latency.observe(max(0.0, live_at - ts))

    def record_drift(self, detector: str) -> None:
        self.drift_detections.labels(self.detector_label(detector)).inc()

    def set_drift_estimates(self, estimates: Mapping[str, float]) -> None:
        """Current estimate of each detector (error rate, mean confidence, class share, ...).

        Also declares each detector's detection counter (at zero), see :meth:`declare_detectors`.
        """
        self.declare_detectors(estimates)
        for detector, estimate in estimates.items():
            self.drift_estimate.labels(self.detector_label(detector)).set(estimate)

    # -- reading -------------------------------------------------------------------------------

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (for tests and health checks)."""
        return self.registry.get_sample_value(name, labels)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)

    def _model_age(self) -> float:
        since = self._model_created_at if self._model_created_at is not None else self._started_at
        return max(0.0, time.time() - since)

    @staticmethod
    def _replace(gauge: Gauge, current: set[str], values: Mapping[str, float]) -> None:
        """Set a one-label gauge to exactly ``values``: stale label values are removed."""
        for stale in current - set(values):
            gauge.remove(stale)
        for label, value in values.items():
            gauge.labels(label).set(value)
        current.clear()
        current.update(values)


def _service_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    process_collector.ProcessCollector(registry=registry)
    platform_collector.PlatformCollector(registry=registry)
    gc_collector.GCCollector(registry=registry)
    return registry


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",)}


def metric_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name a registry can expose, with the ``_total``, ``_bucket``, ... suffixes."""
    names: set[str] = set()
    for family in registry.collect():
        suffixes = _SUFFIXES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


def all_metric_names() -> set[str]:
    """Every ``labelstream_`` sample name a service can expose (to check dashboards and alert rules)."""
    from types import SimpleNamespace

    from labelstream.core.imbalance import ClassMixMonitor
    from labelstream.core.label_errors import LabelErrorDetector
    from labelstream.core.self_training import SelfTraining
    from labelstream.label_error_metrics import register_label_error_metrics
    from labelstream.review.metrics import ReviewMetrics  # the review service's own set (it imports this module)
    from labelstream.weak_metrics import MethodsCollector

    learner = Metrics(service="names")
    register_label_error_metrics(learner, SimpleNamespace(label_errors=LabelErrorDetector()))  # label_errors enabled
    mix = ClassMixMonitor()
    mix.observe_auto("a"), mix.observe_answer("a")  # the distance is exported once both windows hold a label
    learner.registry.register(MethodsCollector(SimpleNamespace(  # each labeling method switched on
        class_mix=mix, self_training=SelfTraining(), committee=SimpleNamespace(disagreed=0),
        rare_reserve=SimpleNamespace(reviewed=0),
    )))
    names = metric_names(learner.registry) | metric_names(ReviewMetrics().registry)
    return {name for name in names if name.startswith("labelstream_")}
