"""Helpers of the offline deploy checks: settings from a container's environment, the services' ports."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping

import pytest
from prom_harness import REPO

from labelstream.settings import CONFIG_FILE_ENV, ENV_PREFIX, Settings, load_settings

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
SERVICES = ("labeler", "learner", "review")


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """The settings a container with exactly this environment loads (this shell's LABELSTREAM_* left out)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(ENV_PREFIX) or name == CONFIG_FILE_ENV:
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, str(value))
        return load_settings()


def service_port(settings: Settings, service: str) -> int:
    """The port a service serves /metrics, /livez and /readyz on."""
    return {
        "labeler": settings.labeler.metrics_port,
        "learner": settings.learner.metrics_port,
        "review": settings.review.port,
    }[service]
