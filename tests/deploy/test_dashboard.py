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
from workload import run_workload

from labelstream.metrics import Metrics, all_metric_names, start_metrics_server, stop_metrics_server

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
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert len(uids) == 1 and f"uid: {uids.pop()}" in datasource
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    used = set().union(*(names_in(e) for exprs in dashboard_queries().values() for e in exprs))
    wanted = {
        "labelstream_record_outcomes_total", "labelstream_auto_precision_lower_bound",
        "labelstream_auto_precision_upper_bound", "labelstream_coverage_ratio", "labelstream_auto_accept_threshold",
        "labelstream_review_backlog", "labelstream_deferred_backlog", "labelstream_drift_detections_total",
        "labelstream_record_latency_seconds_bucket", "labelstream_batch_duration_seconds_bucket",
        "labelstream_consumer_lag_records", "labelstream_model_version",
    }
    assert wanted <= used, wanted - used


@pytest.fixture(scope="module")
def scraped_workload(prometheus: Prometheus) -> Iterator[tuple[Prometheus, list[str]]]:
    """A labeler and a learner metrics server, scraped by Prometheus, after a drifting workload ran."""
    labeler, learner = Metrics("labeler"), Metrics("learner")
    servers = []
    for metrics in (labeler, learner):
        server, port = start_metrics_server(0, lambda: (True, {}), metrics, host="127.0.0.1")
        servers.append(server)
        prometheus.scrape(f"labelstream-{metrics.service}", port)
    prometheus.wait_for('up{job="labelstream-learner"} == 1')
    prometheus.wait_for('up{job="labelstream-labeler"} == 1')
    fired = run_workload(labeler, learner, seconds=5.0)
    time.sleep(2.0)  # two more scrapes and rule evaluations after the last update
    yield prometheus, fired
    for metrics, server in zip((labeler, learner), servers, strict=True):
        prometheus.unscrape(f"labelstream-{metrics.service}")
        stop_metrics_server(server)


def test_every_dashboard_query_returns_data(scraped_workload):
    prometheus, _ = scraped_workload
    empty = prometheus.queries_without_data()
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_every_alert_expression_evaluates(scraped_workload):
    prometheus, _ = scraped_workload
    health = prometheus.rule_health()
    assert len(health) == 8 and set(health.values()) == {"ok"}, health


def test_the_drift_alert_fires(scraped_workload):
    prometheus, fired = scraped_workload
    assert any(name.startswith("error:") for name in fired)
    deadline = time.monotonic() + 10
    while not prometheus.drift_alert_detectors() and time.monotonic() < deadline:
        time.sleep(0.5)
    detectors = prometheus.drift_alert_detectors()
    assert any(name.startswith("error:") for name in detectors)
    assert detectors <= set(fired)
