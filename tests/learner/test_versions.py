"""The learner's VersionPublisher against the real Redis: a rollback that goes live while a version is being published."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from river import datasets

from labelstream.core.build import build_engine
from labelstream.learner.context import LearnerContext
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.learner.versions import VersionPublisher
from labelstream.metrics import Metrics
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from labelstream.store.recheck_answers import RecheckAnswers

pytestmark = pytest.mark.integration


class Announcements:
    """Stands in for the faust ``model-versions`` topic: keeps what :meth:`VersionPublisher.publish` sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, key: bytes, value: bytes) -> None:
        self.sent.append(value)


def test_a_rollback_that_goes_live_during_a_publish_is_not_hidden_by_it(settings_factory):
    settings = settings_factory(create=False)
    client = connect(settings.redis)
    registry = ModelRegistry.from_settings(client, settings)
    engine = build_engine(settings)
    pending = Pending()
    context = LearnerContext(engine, pending, RedisRetry(), Metrics.from_settings("learner", settings.metrics), events=None)
    publisher = VersionPublisher(settings, context, registry, RecheckAnswers.from_settings(client, settings), Announcements())
    rows = iter(datasets.Phishing())

    def learn(n: int) -> None:
        for x, y in itertools.islice(rows, n):
            engine.learn(x, str(y))
        pending.corrections_applied += n

    learn(100)
    asyncio.run(publisher.publish())
    assert registry.latest_version() == 1 and engine.model.n_learned == 100

    learn(100)
    rolled_back = []

    async def operator_rolls_back() -> None:
        """`labelstream models rollback 1` while the learner waits for the broker, its state already taken."""
        rolled_back.append(registry.rollback(1, "test").version)

    pending.deliveries.append(operator_rolls_back())
    asyncio.run(publisher.publish())

    latest = registry.latest_version()
    assert rolled_back and latest >= rolled_back[0]
    # The live model is the rolled-back one (100 answers), not the 200-answer model the rollback replaced,
    # and the learner learns on from it.
    assert registry.load(latest).model.n_learned == 100, f"version {latest} hides the rollback {rolled_back[0]}"
    assert engine.model.n_learned == 100 and engine.model_version == latest
