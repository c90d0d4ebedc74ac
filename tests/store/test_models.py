"""The model registry in Redis: a publish that must not hide a version that went live since its state was taken."""

from __future__ import annotations

import uuid

import pytest
import redis

from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel
from labelstream.core.snapshot import ModelState
from labelstream.settings import Settings
from labelstream.store.models import ModelRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(redis_up: Settings) -> ModelRegistry:
    return ModelRegistry(redis.Redis.from_url(redis_up.redis.url), f"test-{uuid.uuid4().hex[:8]}", "m", b"key")


def state(registry: ModelRegistry) -> ModelState:
    return ModelState(model=OnlineModel(), featurizer=Featurizer(), version=registry.allocate_version())


def test_publish_over_stores_only_while_the_latest_is_the_version_it_grew_from(registry: ModelRegistry):
    assert registry.publish_over(state(registry), base=0).version == 1  # nothing live yet: base 0
    assert registry.publish_over(state(registry), base=1).version == 2
    rollback = registry.rollback(1, "test").version  # version 3 goes live meanwhile
    late = state(registry)
    assert registry.publish_over(late, base=2) is None  # would hide the rollback: nothing stored
    assert registry.latest_version() == rollback and late.version not in registry.versions()
    assert registry.publish_over(state(registry), base=rollback).version == registry.latest_version() > rollback
