"""Helpers shared by the tests (imported as ``stack_support``; conftest names are ambiguous)."""

from __future__ import annotations

import uuid
from pathlib import Path

from labelstream.settings import Settings, TopicSettings

REPO = Path(__file__).resolve().parents[1]


def unique_settings(base: Settings, partitions: int = 3, **sections: dict) -> Settings:
    """A copy of ``base`` whose topics, groups and Redis keys are unique to one test."""
    tag = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        **{role: f"t{tag}.{name}" for role, name in TopicSettings().data_topics().items()},
        partitions=partitions,
    )
    update = {
        "topics": topics,
        "redis": base.redis.model_copy(update={"key_prefix": f"t{tag}"}),
        "labeler": base.labeler.model_copy(update={"group_id": f"t{tag}-labeler", "transactional_id": f"t{tag}-labeler", "metrics_port": 0}),
        "learner": base.learner.model_copy(update={"app_id": f"t{tag}-learner", "metrics_port": 0}),
    }
    for name, values in sections.items():
        update[name] = getattr(base, name).model_copy(update=values)
    return base.model_copy(update=update)
