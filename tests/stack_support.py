"""Helpers shared by the tests (imported as ``stack_support``; conftest names are ambiguous)."""

from __future__ import annotations

import uuid
from pathlib import Path

from labelstream.settings import Settings, namespaced

REPO = Path(__file__).resolve().parents[1]


def unique_settings(base: Settings, partitions: int = 3, **sections: dict) -> Settings:
    """A copy of ``base`` whose topics, groups and Redis keys are unique to one test (metrics on free ports)."""
    settings = namespaced(base, f"t{uuid.uuid4().hex[:8]}", partitions, **sections)
    return settings.model_copy(
        update={
            "labeler": settings.labeler.model_copy(update={"metrics_port": 0}),
            "learner": settings.learner.model_copy(update={"metrics_port": 0}),
        }
    )
