"""The ``/metrics`` + ``/livez`` + ``/readyz`` server of every labelstream service.

:func:`start_metrics_server` serves a service's registry (or its
:class:`~labelstream.metrics.Metrics`) and its health checks on a daemon thread.
"""

from __future__ import annotations

import errno
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from labelstream.errors import PortInUse

if TYPE_CHECKING:
    from labelstream.metrics import Metrics

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]
"""Returns (ok, detail); the detail is served as JSON on ``/livez`` or ``/readyz``."""


def _handler(
    registry: CollectorRegistry, readiness: HealthCheck | None, liveness: HealthCheck | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/livez":
                live, detail = _run_health_check(liveness)
                self._json(live, {"live": live, **detail})
            elif path in ("/readyz", "/healthz"):
                ready, detail = _run_health_check(readiness)
                self._json(ready, {"ready": ready, "healthy": ready, **detail})
            else:
                self._send(404, "text/plain", b"not found: try /metrics, /livez, /readyz or /healthz\n")

        def _json(self, ok: bool, body: dict[str, Any]) -> None:
            self._send(200 if ok else 503, "application/json", json.dumps(body, default=str).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes are not worth a log line
            pass

    return Handler


def _run_health_check(health_check: HealthCheck | None) -> tuple[bool, dict[str, Any]]:
    if health_check is None:
        return True, {}
    try:
        return health_check()
    except Exception as exc:  # a failing check is an unhealthy service, not a crashed server
        return False, {"error": f"{type(exc).__name__}: {exc}"}


def start_metrics_server(
    port: int,
    health_check: HealthCheck | None = None,
    registry: CollectorRegistry | Metrics | None = None,
    host: str = "0.0.0.0",
    liveness: HealthCheck | None = None,
) -> tuple[ThreadingHTTPServer, int]:
    """Serve ``/metrics``, ``/livez``, ``/readyz`` and ``/healthz`` on a daemon thread; ``port`` 0 picks a free port.

    ``health_check`` is the readiness check (can the service do its work now?):
    ``/readyz`` and its alias ``/healthz`` answer JSON ``{"ready": ...,
    "healthy": ..., **detail}``, 200 when it says ready, 503 otherwise (or
    when it raises). ``liveness`` (is the process alive, its loop turning?)
    answers ``/livez`` the same way with ``{"live": ...}``; without it, a
    process that answers is live. Neither should fail only because the service
    is idle. Returns the server (stop it with :func:`stop_metrics_server`) and
    the port it listens on.
    """
    if registry is not None and not isinstance(registry, CollectorRegistry):
        registry = registry.registry  # a Metrics
    try:
        server = ThreadingHTTPServer((host, port), _handler(registry or CollectorRegistry(), health_check, liveness))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(f"port {port} is already in use (another labelstream service?)", port) from exc
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"metrics-{server.server_port}", daemon=True)
    thread.start()
    return server, server.server_port


def stop_metrics_server(server: ThreadingHTTPServer) -> None:
    """Stop serving and release the port."""
    server.shutdown()
    server.server_close()
