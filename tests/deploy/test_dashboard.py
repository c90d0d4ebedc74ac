"""The Grafana dashboard and the alert rules against the metrics module.

Structural: every metric a panel, an annotation, an alert rule or a rule test
names is one that :mod:`labelstream.metrics` defines. The live half (every
panel's query returns data, every alert expression evaluates, the drift alert
fires) is ``test_e2e_prometheus.py``: the real labeler, learner and reviewer
under the contract policy, scraped by a real Prometheus, instead of metrics
a test sets itself.
"""

from __future__ import annotations

import json
import re

from prom_harness import DASHBOARD, REPO, RULES, dashboard_queries

from labelstream.metrics import all_metric_names

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
