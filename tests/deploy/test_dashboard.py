"""The Grafana dashboard and the alert rules against the metrics module and a real Prometheus.

Structural: every metric a panel, an annotation, an alert rule or a rule test
names is one that :mod:`labelstream.metrics` defines. Live: a real Prometheus
scrapes the metrics servers of an in-process labeler and learner (the real
metrics module, updated by the real core over a drifting stream); every
panel's query returns data, every alert expression evaluates, and the drift
alert fires.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from prom_harness import DASHBOARD, REPO, RULES, Prometheus, dashboard_queries
from review_workload import run_review_workload
from workload import run_workload

from labelstream.metrics import Metrics, all_metric_names, start_metrics_server, stop_metrics_server
from labelstream.review.metrics import ReviewMetrics

METRIC = re.compile(r"\blabelstream_[a-z0-9_]+")
GRAFANA = REPO / "deploy" / "grafana"
PROMETHEUS_METRICS = {"up"}


def names_in(text: str) -> set[str]:
    return set(METRIC.findall(text))


def test_dashboard_names_only_defined_metrics():
    defined = all_metric_names()
    queries = dashboard_queries()
    assert len(queries) >= 15
    for title, exprs in queries.items():
        assert exprs, f"panel {title!r} has no query"
        for expr in exprs:
            used = names_in(expr)
            assert used, f"{title!r}: {expr} uses no labelstream metric"
            assert used <= defined, f"{title!r} uses undefined {used - defined}"


def test_rules_and_rule_tests_name_only_defined_metrics():
    defined = all_metric_names()
    for path in (RULES, RULES.with_name("tests.yml")):
        used = names_in(path.read_text())
        assert used and used <= defined, f"{path.name} uses undefined {used - defined}"


def test_dashboard_covers_the_issue_and_uses_the_provisioned_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    datasource = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    uids = {panel["datasource"]["uid"] for panel in panels} | {t["datasource"]["uid"] for p in panels for t in p["targets"]}
    assert uids == {"${datasource}"}  # the $datasource variable, whose default is the provisioned datasource
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert f"uid: {variables['datasource']['current']['value']}" in datasource
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    used = set().union(*(names_in(e) for exprs in dashboard_queries().values() for e in exprs))
    wanted = {
        "labelstream_record_outcomes_total", "labelstream_auto_precision_lower_bound",
        "labelstream_auto_precision_upper_bound", "labelstream_coverage_ratio", "labelstream_auto_accept_threshold",
        "labelstream_review_backlog", "labelstream_deferred_backlog", "labelstream_drift_detections_total",
        "labelstream_record_latency_seconds_bucket", "labelstream_batch_duration_seconds_bucket",
        "labelstream_consumer_lag_records", "labelstream_model_version",
        "labelstream_labeler_last_commit_timestamp_seconds", "labelstream_batch_retries_total",
        "labelstream_review_queue_items", "labelstream_review_answers_total", "labelstream_review_answer_seconds_bucket",
        "labelstream_reviewer_seconds_per_answer", "labelstream_review_agreement_kappa", "labelstream_review_agreement_alpha",
        "labelstream_reviewer_consensus_agreement_ratio", "labelstream_reviewer_accuracy_estimate",
        "labelstream_review_consolidated_total", "labelstream_policy_paused",
    }
    assert wanted <= used, wanted - used


@pytest.fixture(scope="module")
def scraped_workload(prometheus: Prometheus) -> Iterator[tuple[Prometheus, list[str]]]:
    """A labeler, a learner and a review metrics server, scraped by Prometheus, after a drifting workload ran."""
    labeler, learner, review = Metrics("labeler"), Metrics("learner"), ReviewMetrics()
    servers = []
    for job, metrics in (("labeler", labeler), ("learner", learner), ("review", review.registry)):
        server, port = start_metrics_server(0, lambda: (True, {}), metrics, host="127.0.0.1")
        servers.append((job, server))
        prometheus.scrape(f"labelstream-{job}", port)
    for job, _ in servers:
        prometheus.wait_for(f'up{{job="labelstream-{job}"}} == 1')
    # paced over a few 1 s scrapes, so every rate and quantile has samples while the counters move (the
    # workloads' own CPU time is under 1 s; 5 s of pacing was 4 s of sleeping)
    run_review_workload(review, seconds=1.5)
    fired = run_workload(labeler, learner, seconds=3.0)
    time.sleep(2.0)  # two more scrapes and rule evaluations after the last update
    yield prometheus, fired
    for job, server in servers:
        prometheus.unscrape(f"labelstream-{job}")
        stop_metrics_server(server)


def test_every_dashboard_query_returns_data(scraped_workload):
    prometheus, _ = scraped_workload
    empty = prometheus.queries_without_data()
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_every_alert_expression_evaluates(scraped_workload):
    prometheus, _ = scraped_workload
    health = prometheus.rule_health()
    assert len(health) == 12 and set(health.values()) == {"ok"}, health


def test_the_drift_alert_fires(scraped_workload):
    prometheus, fired = scraped_workload
    assert any(name.startswith("error:") for name in fired)
    deadline = time.monotonic() + 10
    while not prometheus.drift_alert_detectors() and time.monotonic() < deadline:
        time.sleep(0.5)
    detectors = prometheus.drift_alert_detectors()
    assert any(name.startswith("error:") for name in detectors)
    assert detectors <= set(fired)
