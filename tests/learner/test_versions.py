"""The learner's VersionPublisher against the real Redis: a rollback that goes live while a version is being published,
and the recheck's kept answers a restarted learner reads back from beside the version it resumes from."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from river import datasets

from labelstream.core.build import build_engine
from labelstream.core.policy.base import Evidence, Prediction
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


def publisher_of(settings, engine=None) -> VersionPublisher:
    """A learner's publisher (a new engine: a learner process just started) on the test's Redis."""
    client = connect(settings.redis)
    engine = build_engine(settings) if engine is None else engine
    context = LearnerContext(engine, Pending(), RedisRetry(), Metrics.from_settings("learner", settings.metrics), events=None)
    return VersionPublisher(settings, context, ModelRegistry.from_settings(client, settings),
                            RecheckAnswers.from_settings(client, settings), Announcements())


def answer(publisher: VersionPublisher, rows, n: int, probabilities: dict[str, float]) -> None:
    """``n`` answers learned as the learner does: the model learns, the policy takes the evidence and keeps its input.

    ``probabilities``: the prediction the record was routed with (``{}``: a model that knew no class yet).
    """
    engine = publisher.engine
    context = {"outcome": "review", "generation": engine.policy.generation, "model_version": engine.model_version,
               "threshold": None, "p_review": 1.0, "p_least": 1.0}
    for x, y in itertools.islice(rows, n):
        features = engine.model_input(x)
        engine.learn_evidence(Evidence(Prediction.from_probabilities(probabilities), str(y), "cold_start",
                                       context=dict(context)), features)
        engine.learn(x, str(y))
    publisher.pending.corrections_applied += n


def test_a_learner_restarted_from_a_version_rechecks_on_the_answers_it_kept(settings_factory, caplog):
    settings = settings_factory(create=False)
    rows = iter(datasets.Phishing())
    before = publisher_of(settings)
    answer(before, rows, 200, {"True": 0.8, "False": 0.2})
    asyncio.run(before.publish())
    kept = before.engine.policy.kept_answers()
    assert len(kept["answers"]) == 200

    caplog.set_level(logging.INFO, "labelstream.learner")
    after = publisher_of(settings)  # kill -9, start: nothing but Redis carries over
    after.restore()
    assert after.engine.model_version == 1
    assert after.engine.policy.kept_answers() == kept, "the restarted learner's recheck lost the answers it kept"
    assert "recheck: 200 answers of the generation kept from version 1" in caplog.text


def test_answers_to_records_routed_before_the_model_knew_a_class_are_not_kept(settings_factory, caplog):
    """Why a learner restarted from an early version can keep 0 answers: the crash-recovery run's version 1 learned
    50 answers, all to records the labeler routed with the empty model (no class predicted, no evidence)."""
    settings = settings_factory(create=False)
    before = publisher_of(settings)
    answer(before, iter(datasets.Phishing()), 50, {})
    asyncio.run(before.publish())
    assert before.engine.model.n_learned == 50 and before.engine.policy.kept_answers()["answers"] == []

    caplog.set_level(logging.INFO, "labelstream.learner")
    after = publisher_of(settings)
    after.restore()
    assert after.engine.policy.kept_answers() == before.engine.policy.kept_answers()
    assert "recheck: 0 answers of the generation kept from version 1" in caplog.text


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
