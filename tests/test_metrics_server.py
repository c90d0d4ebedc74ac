"""The /metrics + /livez + /readyz server: what it serves, and health checks that fail or raise."""

import json
import urllib.error
import urllib.request

from labelstream.metrics import Metrics
from labelstream.metrics_server import start_metrics_server, stop_metrics_server


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_server_serves_metrics_and_health():
    metrics = Metrics("labeler")
    metrics.record_received(7)
    state = {"healthy": True}
    server, port = start_metrics_server(0, lambda: (state["healthy"], {"consumer": "ok"}), metrics, host="127.0.0.1")
    try:
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "labelstream_records_received_total 7.0" in body
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body) == {"ready": True, "healthy": True, "consumer": "ok"}
        state["healthy"] = False
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 503
        assert get(f"http://127.0.0.1:{port}/nothing")[0] == 404
    finally:
        stop_metrics_server(server)


def test_liveness_and_readiness_are_separate_checks():
    """/livez from one callback, /readyz (and its alias /healthz) from another; no liveness check: live."""
    state = {"live": True, "ready": False}
    server, port = start_metrics_server(
        0, lambda: (state["ready"], {"why": "redis"}), host="127.0.0.1", liveness=lambda: (state["live"], {"turns": 3})
    )
    plain, plain_port = start_metrics_server(0, host="127.0.0.1")
    try:
        status, body = get(f"http://127.0.0.1:{port}/livez")
        assert status == 200 and json.loads(body) == {"live": True, "turns": 3}
        for path in ("/readyz", "/healthz"):
            status, body = get(f"http://127.0.0.1:{port}{path}")
            assert status == 503 and json.loads(body) == {"ready": False, "healthy": False, "why": "redis"}
        state.update(live=False, ready=True)
        assert get(f"http://127.0.0.1:{port}/livez")[0] == 503
        assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        assert get(f"http://127.0.0.1:{plain_port}/livez") == (200, '{"live": true}')
        assert get(f"http://127.0.0.1:{plain_port}/readyz")[0] == 200
    finally:
        stop_metrics_server(server)
        stop_metrics_server(plain)


def test_a_raising_health_check_is_unhealthy():
    def broken():
        raise RuntimeError("redis down")

    server, port = start_metrics_server(0, broken, host="127.0.0.1")
    try:
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 503 and "redis down" in json.loads(body)["error"]
    finally:
        stop_metrics_server(server)
