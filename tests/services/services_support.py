"""Helpers of the services' tests (imported as ``services_support``): real service processes and their metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labelstream.processes import ServiceProcess, service, stop_all
from labelstream.settings import Settings


@contextmanager
def learner_and_labeler(settings: Settings, log_dir: Path) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """``with learner_and_labeler(settings, tmp_path) as (learner, labeler):`` both started, serving; stopped after."""
    learner, labeler = service(settings, "learner", log_dir), service(settings, "labeler", log_dir, instance="0")
    try:
        for proc in (learner, labeler):
            proc.start()
        for proc in (learner, labeler):
            proc.wait_until_serving()
        yield learner, labeler
    finally:
        stop_all((labeler, learner))


def metric(proc: ServiceProcess, sample: str, missing: float | None = None) -> float | None:
    """The value of one sample (``name`` or ``name{label="..."}``, spelled as exported) on ``proc``'s /metrics."""
    found = re.search(rf"^{re.escape(sample)} (\S+)$", proc.metrics_text(), re.MULTILINE)
    return float(found.group(1)) if found else missing
