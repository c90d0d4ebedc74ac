"""The metrics module: names, caps and helpers (its server: test_metrics_server.py)."""

import math
import time

import pytest

from labelstream.metrics import OTHER, Metrics, all_metric_names
from labelstream.settings import load_settings


def test_names_follow_prometheus_conventions():
    names = all_metric_names()
    assert len(names) > 25
    for name in names:
        assert name.startswith("labelstream_"), name
        assert "_total" not in name.removesuffix("_total"), name
    counters = {"labelstream_records_received_total", "labelstream_record_outcomes_total", "labelstream_corrections_total"}
    assert counters <= names
    assert {"labelstream_record_latency_seconds_bucket", "labelstream_batch_duration_seconds_bucket"} <= names


def test_class_labels_are_capped():
    metrics = Metrics("labeler", max_class_labels=3)
    metrics.record_auto_labels({f"class{i}": 1 for i in range(10)})
    assert metrics.value("labelstream_auto_labels_total", **{"class": "class0"}) == 1
    assert metrics.value("labelstream_auto_labels_total", **{"class": OTHER}) == 7
    assert metrics.value("labelstream_auto_labels_total", **{"class": "class5"}) is None


def test_coverage_is_a_sliding_window():
    metrics = Metrics("labeler", coverage_window_records=100)
    for _ in range(5):
        metrics.record_outcomes({("label", "confident"): 50})
    assert metrics.value("labelstream_coverage_ratio") == 1.0
    for _ in range(2):
        metrics.record_outcomes({("review", "uncertain"): 50})
    assert metrics.value("labelstream_coverage_ratio") == 0.0
    assert metrics.value("labelstream_record_outcomes_total", outcome="label", reason="confident") == 250


def test_thresholds_and_precision_drop_stale_classes():
    metrics = Metrics("learner")
    metrics.set_thresholds({"a": 0.9, "b": None})
    metrics.set_thresholds({"a": 0.8})
    assert metrics.value("labelstream_auto_accept_threshold", **{"class": "a"}) == 0.8
    assert metrics.value("labelstream_auto_accept_threshold", **{"class": "b"}) is None
    metrics.set_precision({"__all__": (0.96, 0.93, 0.98), "a": (0.97, 0.9, 0.99)}, target=0.95)
    metrics.set_precision({"__all__": (0.95, 0.92, 0.97)})
    assert metrics.value("labelstream_auto_precision_lower_bound", **{"class": "__all__"}) == 0.92
    assert metrics.value("labelstream_auto_precision_estimate", **{"class": "a"}) is None
    assert metrics.value("labelstream_auto_precision_target") == 0.95


def test_batch_latency_is_sampled_and_model_age_grows():
    metrics = Metrics("labeler", latency_samples_per_batch=10)
    metrics.observe_batch(1000, 0.012, [100.0] * 1000, now=100.5)
    assert metrics.value("labelstream_record_latency_seconds_count") == 10
    assert metrics.value("labelstream_record_latency_seconds_sum") == pytest.approx(5.0)
    assert metrics.value("labelstream_batch_duration_seconds_bucket", le="0.025") == 1
    metrics.set_model(3, created_at=1000.0, model_name="default", kind="logistic")
    assert metrics.value("labelstream_model_version") == 3
    assert metrics.value("labelstream_model_age_seconds") > 1e9


def test_two_services_in_one_process_and_settings():
    settings = load_settings(metrics={"max_class_labels": 1})
    labeler = Metrics.from_settings("labeler", settings.metrics)
    learner = Metrics.from_settings("learner", settings.metrics)
    labeler.record_received(5)
    assert learner.value("labelstream_records_received_total") == 0
    assert 'labelstream_build_info{python=' in labeler.exposition().decode()
    assert 'service="learner"' in learner.exposition().decode()
    labeler.record_auto_labels({"x": 1, "y": 1})
    assert labeler.value("labelstream_auto_labels_total", **{"class": OTHER}) == 1


def test_labeler_progress_metrics():
    before = time.time()
    metrics = Metrics("labeler")
    # before its first commit: its start (so that a labeler stalled from its start ages too)
    assert before <= metrics.value("labelstream_labeler_last_commit_timestamp_seconds") <= time.time()
    assert math.isnan(Metrics("learner").value("labelstream_labeler_last_commit_timestamp_seconds"))
    assert metrics.value("labelstream_batch_retries_total", reason="broker") == 0
    metrics.record_commit(at=123.0)
    metrics.record_batch_retry("poison")
    assert metrics.value("labelstream_labeler_commits_total") == 1
    assert metrics.value("labelstream_labeler_last_commit_timestamp_seconds") == 123.0
    assert metrics.value("labelstream_batch_retries_total", reason="poison") == 1
    metrics.replace_consumer_lag("records", {0: 5, 1: 7})
    metrics.replace_consumer_lag("records", {1: 2})
    assert metrics.value("labelstream_consumer_lag_records", topic="records", partition="0") is None
    assert metrics.value("labelstream_consumer_lag_records", topic="records", partition="1") == 2


def test_values_a_service_never_reported_are_nan_not_zero():
    metrics = Metrics("labeler")
    for name in ("labelstream_coverage_ratio", "labelstream_review_backlog", "labelstream_auto_precision_target"):
        assert math.isnan(metrics.value(name)), name
    metrics.set_backlogs(deferred=3)
    assert metrics.value("labelstream_deferred_backlog") == 3 and math.isnan(metrics.value("labelstream_review_backlog"))


def test_a_service_without_a_model_exports_no_model_series():
    review = Metrics("review", tracks_model=False)
    review.set_model(1, created_at=0.0)
    assert "labelstream_model_" not in review.exposition().decode()
    assert "labelstream_model_age_seconds" in Metrics("learner").exposition().decode()
