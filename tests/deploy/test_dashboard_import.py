"""The dashboard imports anywhere and scopes by job: ``__inputs``, ``$datasource`` and ``$job``, no double counting.

Beside tests/deploy/test_dashboard.py (metric names, live queries): these are the
properties issue #13 asked of the JSON itself.
"""

from __future__ import annotations

import json
import re

from prom_harness import DASHBOARD, dashboard_queries

SELECTOR = re.compile(r"\b(labelstream_[a-z0-9_]+)(\{[^}]*\})?")
GLOBAL_COUNTS = ("labelstream_review_backlog", "labelstream_deferred_backlog", "labelstream_review_queue_items")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_importable_with_a_datasource_input_and_its_requirements():
    board = dashboard()
    (ds_input,) = board["__inputs"]
    assert ds_input["type"] == "datasource" and ds_input["pluginId"] == "prometheus"
    required = {(r["type"], r["id"]) for r in board["__requires"]}
    used = {("panel", panel["type"]) for panel in board["panels"] if panel["type"] != "row"}
    assert used <= required and ("datasource", "prometheus") in required


def test_datasource_and_job_variables():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    job = variables["job"]
    assert job["type"] == "query" and job["includeAll"] and job["multi"]
    assert job["datasource"]["uid"] == "${datasource}"
    assert "labelstream_build_info" in job["query"]["query"]


def test_every_selector_is_scoped_by_job():
    for title, exprs in dashboard_queries().items():
        for expr in exprs:
            for match in SELECTOR.finditer(expr):
                assert match.group(2) and 'job=~"$job"' in match.group(2), f"{title!r}: {match.group(0)} ignores $job"


def test_global_counts_are_not_summed_over_services():
    """Every labeler (and review replica) reports the same Redis count: N of them must not show N times it."""
    for title, exprs in dashboard_queries().items():
        for expr in exprs:
            for name in GLOBAL_COUNTS:
                if name in expr:
                    assert re.search(rf"\bmax(\s+by\s*\([^)]*\))?\s*\(\s*{name}\b", expr), f"{title!r}: {expr}"


def test_panels_do_not_overlap():
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        pos = panel["gridPos"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, f"{panel['title']!r} overlaps another panel"
        assert pos["x"] + pos["w"] <= 24
        taken |= cells


RECORD_RATE = re.compile(
    r"sum(\s+by\s*\([^)]*\))?\s*\(rate\(labelstream_records?_[a-z_]+_total\{[^}]*\}\[\$__rate_interval\]\)\)"
)
RECORDS_PER_SECOND = "count:records/s"  # Grafana's custom count unit: 40 records/s, 1.2K records/s


def test_panels_of_record_rates_read_records_per_second():
    """Grafana's ``reqps`` reads "req/s": the throughput panels count records, not requests."""
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    rates = [p for p in panels if p.get("targets") and all(RECORD_RATE.fullmatch(t["expr"]) for t in p["targets"])]
    assert {p["title"] for p in rates} >= {"Throughput by outcome", "Outcomes by reason"}
    for panel in rates:
        assert panel["fieldConfig"]["defaults"]["unit"] == RECORDS_PER_SECOND, panel["title"]
    units = {p["title"]: p.get("fieldConfig", {}).get("defaults", {}).get("unit") for p in panels}
    assert "reqps" not in units.values(), units
