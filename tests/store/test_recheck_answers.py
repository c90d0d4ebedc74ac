"""The recheck's kept answers beside their model version in Redis: signed, and only for the version they match."""

from __future__ import annotations

import uuid

import pytest
import redis

from labelstream.settings import Settings
from labelstream.store.recheck_answers import RecheckAnswers

pytestmark = pytest.mark.integration

KEPT = {"generation": 2, "x": [{"x": 0.5}, {"x": -0.25}], "answers": ["a", "b"], "weights": [1.0, 0.25]}


@pytest.fixture
def answers(redis_up: Settings) -> RecheckAnswers:
    return RecheckAnswers(redis.Redis.from_url(redis_up.redis.url), f"test-{uuid.uuid4().hex[:8]}", "m", b"key")


def test_the_answers_of_a_version_come_back_for_that_version_only(answers: RecheckAnswers):
    assert answers.load(3) is None
    assert answers.save(3, KEPT) > 0
    assert answers.load(3) == KEPT
    assert answers.load(4) is None  # a restart from another version (a rollback, a crash between the writes)


def test_bytes_not_signed_with_the_key_are_refused(answers: RecheckAnswers):
    answers.client.set(answers.key, RecheckAnswers(answers.client, "x", "m", b"other").dump(3, KEPT))
    assert answers.load(3) is None
    answers.client.set(answers.key, b"not a pickle")
    assert answers.load(3) is None
