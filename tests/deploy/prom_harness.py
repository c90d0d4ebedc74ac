"""A real Prometheus for tests: temp config and storage, a free port, targets added at run time.

Targets come from ``file_sd`` files that :meth:`Prometheus.scrape` writes, so
one server started per session scrapes whatever services a test starts. The
alert rules of ``deploy/prometheus/rules/`` are loaded as they are; scrapes
and rule evaluations run every second.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules" / "labelstream.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "labelstream.json"
GRAFANA_INTERVALS = {"$__rate_interval": "15s", "$__interval": "1s", "$__range": "5m"}
# the dashboard's own variables as "All" selects them ($job: every job)
GRAFANA_VARIABLES = {"$job": ".+"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered a query with an error."""


class Prometheus:
    """One ``prometheus`` process in ``workdir``; :meth:`stop` ends it."""

    def __init__(self, workdir: Path, interval: str = "1s") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._targets = workdir / "targets"
        self._targets.mkdir(parents=True)
        shutil.copy(RULES, workdir / RULES.name)
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [RULES.name],
            "scrape_configs": [
                {"job_name": "labelstream", "file_sd_configs": [{"files": ["targets/*.json"], "refresh_interval": "1s"}]}
            ],
        }
        (workdir / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
        self._log = open(workdir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited ({self._process.returncode}): {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready after {timeout}s: {self.log()[-2000:]}")

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def scrape(self, job: str, port: int, host: str = "127.0.0.1") -> None:
        """Scrape ``host:port`` as job ``job`` (picked up within about a second)."""
        target = [{"targets": [f"{host}:{port}"], "labels": {"job": job}}]
        path = self._targets / f"{job}.json"
        path.with_suffix(".tmp").write_text(json.dumps(target))
        path.with_suffix(".tmp").rename(path)  # atomic: Prometheus never reads half a file

    def unscrape(self, job: str) -> None:
        (self._targets / f"{job}.json").unlink(missing_ok=True)

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>``; its ``data``, or :class:`PrometheusError` with Prometheus's error."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query's result (a list of series; empty when the query returns no data)."""
        data = self.api("query", query=expand_grafana_variables(expr))
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def wait_for(self, expr: str, timeout: float = 20.0) -> list[dict]:
        """Poll ``expr`` until it returns data; its result (or :class:`PrometheusError` at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise PrometheusError(f"no data for {expr!r} after {timeout}s")
            time.sleep(0.5)

    def alert_rules(self) -> dict[str, str]:
        """Alert name -> its expression, as Prometheus loaded them from the rules file."""
        groups = self.api("rules", type="alert")["groups"]
        return {rule["name"]: rule["query"] for group in groups for rule in group["rules"]}

    def queries_without_data(self, skip_rows: frozenset[str] = frozenset()) -> list[str]:
        """Every dashboard query (``panel: expr``) that returns no series, or only NaN (rows in ``skip_rows`` left out)."""
        return [
            f"{title}: {expr}"
            for title, exprs in dashboard_queries(skip_rows=skip_rows).items()
            for expr in exprs
            if not any(not math.isnan(float(series["value"][1])) for series in self.query(expr))
        ]

    def rule_health(self) -> dict[str, str]:
        """Run every alert expression (:class:`PrometheusError` if one fails); rule name -> health as evaluated."""
        for expr in self.alert_rules().values():
            self.query(expr)
        return {rule["name"]: rule["health"] for group in self.api("rules")["groups"] for rule in group["rules"]}

    def drift_alert_detectors(self) -> set[str]:
        """The detectors of the firing ``LabelstreamDriftDetected`` alerts."""
        return {alert["labels"]["detector"] for alert in self.firing().get("LabelstreamDriftDetected", [])}

    def firing(self) -> dict[str, list[dict]]:
        """Firing alerts by name."""
        alerts: dict[str, list[dict]] = {}
        for alert in self.api("alerts")["alerts"]:
            if alert["state"] == "firing":
                alerts.setdefault(alert["labels"]["alertname"], []).append(alert)
        return alerts

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


def expand_grafana_variables(expr: str) -> str:
    """Grafana's ``$__rate_interval`` and friends, as fixed ranges Prometheus understands; ``$job`` as "All"."""
    for variable, value in (GRAFANA_INTERVALS | GRAFANA_VARIABLES).items():
        expr = expr.replace(variable, value)
    return expr


def dashboard_queries(path: Path = DASHBOARD, skip_rows: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Panel title -> the PromQL of its targets; annotations as ``annotation: <name>``.

    Rows are headings, not panels; the panels under a row titled in ``skip_rows`` are left out.
    """
    dashboard = json.loads(path.read_text())
    queries, row = {}, None
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
        elif row not in skip_rows:
            queries[panel["title"]] = [t["expr"] for t in panel.get("targets", [])]
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            queries[f"annotation: {annotation['name']}"] = [annotation["expr"]]
    return queries


