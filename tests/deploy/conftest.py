"""A real Prometheus (Debian's ``prometheus`` binary) for the deploy tests, a fresh one per test module.

Per module, not per session: a module's alerts and range queries must not see another module's samples.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from prom_harness import Prometheus


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus on a free port with a temp config and storage, the labelstream alert rules loaded."""
    if shutil.which("prometheus") is None:
        pytest.fail("the prometheus binary is not on PATH: apt-get install prometheus")
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()
