"""Routed records in Redis: the policy's decision context travels from the decision to the answer's evidence."""

from __future__ import annotations

import uuid

import orjson
import pytest
import redis

from labelstream.core.policy import Decision, Prediction
from labelstream.settings import Settings
from labelstream.store.records import RecordStore, StoredRecord

pytestmark = pytest.mark.integration


@pytest.fixture
def store(redis_up: Settings) -> RecordStore:
    return RecordStore(redis.Redis.from_url(redis_up.redis.url), f"test-{uuid.uuid4().hex[:8]}", ttl_seconds=60)


def test_the_decision_context_comes_back_with_the_answer(store: RecordStore):
    context = {"model_version": 7, "generation": 2, "threshold": 0.93, "p_review": 0.25, "parts": {"audit": 0.02}}
    decision = Decision("review", "uncertain", 0.25, 0.5, context)
    raw = b'{"id":"r1","features":{"x":1.5}}'
    store.put_many([
        StoredRecord("r1", {"x": 1.5}, decision.outcome, decision.reason, {"spam": 0.6, "ham": 0.4},
                     decision.inclusion_probability, 7, 100.0, raw, context=decision.context)
    ])
    stored = store.get("r1")
    assert stored is not None and stored.context == context
    evidence = stored.evidence("ham", timestamp=101.0)
    assert evidence.context == context
    assert evidence.prediction == Prediction.from_probabilities({"spam": 0.6, "ham": 0.4})
    assert (evidence.reason, evidence.inclusion_probability, evidence.correct) == ("uncertain", 0.25, False)
    assert evidence.reviewer is None
    assert stored.evidence("ham", 101.0, "bo").reviewer == "bo"  # who answered: a weighted gold bound's bar


def test_a_record_stored_before_the_context_existed_reads_with_an_empty_one(store: RecordStore):
    old = {"record": {"features": {"x": 1}}, "outcome": "review", "reason": "audit", "probabilities": {"a": 1.0},
           "inclusion_probability": 0.02, "model_version": 3, "routed_at": 5.0}
    store.client.set(store._key("old"), orjson.dumps(old))
    stored = store.get("old")
    assert stored is not None and stored.context == {}
    assert stored.evidence("a").context == {}
