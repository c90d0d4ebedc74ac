#!/usr/bin/env python3
"""The image's HEALTHCHECK: GET a labelstream service's ``/livez`` (standard library only, ~30 ms).

    labelstream-healthcheck [URL]

With a URL, probe it. Without one, find the ``labelstream run <service>`` process
in this container and probe its own port: ``--port``, else the port setting's
environment variable, else the settings model's default (tests/deploy checks these
defaults against ``labelstream.settings``); the review service's ``review.ops_port``
(``LABELSTREAM_REVIEW__OPS_PORT``) when set, where its probes are then served. A container that runs no service (a
one-shot job such as ``topics create`` or ``produce``) is healthy while it runs.
Exit 0 healthy, 1 unhealthy: what Docker's HEALTHCHECK expects.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

# service -> (environment variable of its port setting, the setting's default)
PORTS = {
    "labeler": ("LABELSTREAM_LABELER__METRICS_PORT", 9400),
    "learner": ("LABELSTREAM_LEARNER__METRICS_PORT", 9401),
    "review": ("LABELSTREAM_REVIEW__PORT", 9402),
}
OPS_PORT = "LABELSTREAM_REVIEW__OPS_PORT"


def service_args(pids: list[int] | None = None) -> list[str] | None:
    """The arguments after ``run`` of the ``labelstream run <service>`` process here (among ``pids``), or None."""
    paths = [Path(f"/proc/{pid}/cmdline") for pid in pids] if pids is not None else sorted(Path("/proc").glob("[0-9]*/cmdline"))
    for cmdline in paths:
        try:
            args = cmdline.read_bytes().decode(errors="replace").rstrip("\0").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args[:-1]):
            if os.path.basename(arg) == "labelstream" and "run" in args[i + 1 :]:
                rest = args[args.index("run", i + 1) + 1 :]
                if rest and rest[0] in PORTS:
                    return rest
    return None


def url_of(args: list[str]) -> str:
    service, options = args[0], args[1:]
    env_name, default = PORTS[service]
    port = os.environ.get(env_name) or default
    for i, option in enumerate(options):
        if option == "--port" and i + 1 < len(options):
            port = options[i + 1]
        elif option.startswith("--port="):
            port = option.split("=", 1)[1]
    if service == "review" and os.environ.get(OPS_PORT):  # the probes leave the page's port (docs/operations.md)
        port = os.environ[OPS_PORT]
    return f"http://127.0.0.1:{port}/livez"


def probe(url: str) -> int:
    """0 when ``url`` answers 200, else 1 (the reason on stderr)."""
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        return probe(argv[1])
    args = service_args()
    if args is None:
        return 0  # no service in this container: nothing to probe
    return probe(url_of(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
