"""Gold proposals from the live model (review/gold_proposals.py): a served gold item carries the latest model
version's prediction, its answer is scored against that proposal, a new version takes over, a tampered one is
refused, and ``review.gold_proposals = "uploaded"`` keeps the uploaded proposal."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from review_support import key_of, new_token, request, review_sections

from labelstream.core.build import build_engine
from labelstream.core.schemas import Record
from labelstream.core.snapshot import ModelState
from labelstream.review.gold_proposals import CHECK_SECONDS, LiveProposals
from labelstream.review.items import QueueItem
from labelstream.review.service import ReviewService
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

pytestmark = pytest.mark.integration

# g1: the model says cat (right); g2: the model says dog, the known label is bird (a wrong proposal)
GOLD = [
    {"id": "g1", "record": {"features": {"x": 1.5, "colour": "red"}}, "label": "cat", "proposed_label": "bird"},
    {"id": "g2", "record": {"features": {"x": -1.5, "colour": "blue"}}, "label": "bird", "proposed_label": "bird"},
]


def trained(settings, positive: str, negative: str, version: int) -> tuple[ModelState, object]:
    """A model that says ``positive`` for x > 0 and ``negative`` below, as version ``version``."""
    engine = build_engine(settings)
    for i in range(200):
        x = (i % 20 - 9.5) / 5
        engine.learn({"x": x, "colour": "red" if i % 2 else "blue"}, positive if x > 0 else negative)
    return ModelState(model=engine.model, featurizer=engine.featurizer, version=version), engine


def said(engine, gold: dict) -> tuple[str, dict[str, float]]:  # noqa: ANN001
    prediction = engine.score([Record.model_validate({"id": "gold", **gold["record"]})])[0]
    return prediction.label, dict(prediction.probabilities)


@pytest.fixture
def service(settings_factory) -> Iterator:  # noqa: ANN001
    made = []

    def build(mode: str = "model") -> tuple[ReviewService, TestClient, dict[str, str]]:
        settings = settings_factory(**review_sections(gold_share=1.0, undo_seconds=0.0, gold_proposals=mode))
        svc = ReviewService(settings)
        made.append(svc)
        http = TestClient(svc.app)
        tokens = {name: new_token(settings, name, role) for name, role in (("boss", "admin"), ("ana", "reviewer"))}
        headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
        assert http.post("/api/v1/admin/gold", json={"items": GOLD}, headers=headers["boss"]).json()["added"] == 2
        svc.queue.enqueue([QueueItem.from_request(request("real1").model_dump_json().encode())])
        return svc, http, headers

    yield build
    for svc in made:
        svc.shutdown()


def test_a_gold_item_shows_the_live_models_proposal_and_its_answer_is_scored_against_it(service):
    svc, http, headers = service()
    registry = ModelRegistry.from_settings(svc.redis, svc.settings)
    state, engine = trained(svc.settings, "cat", "dog", version=1)
    registry.publish(state)
    shown = {}
    for _ in GOLD:
        item = http.post("/api/v1/claim", headers=headers["ana"]).json()["item"]
        gold_id = svc.queue.item_field(key_of(svc.redis, svc.settings.redis.key_prefix, item), "gold")
        shown[gold_id] = item
        answer = "dog" if gold_id == "g2" else "cat"  # g2: ana takes the model's wrong proposal
        reply = http.post("/api/v1/answer", headers=headers["ana"],
                          json={"id": item["id"], "lease": item["lease"], "label": answer})
        assert reply.status_code == 200, reply.text
    for gold in GOLD:  # the model's proposal, probabilities and version, not the uploaded "bird"
        label, probabilities = said(engine, gold)
        item = shown[gold["id"]]
        assert (item["proposed_label"], item["probabilities"], item["model_version"]) == (label, probabilities, 1)
        assert item["reason"] == "uncertain"
    assert shown["g1"]["proposed_label"] == "cat" and shown["g2"]["proposed_label"] == "dog"
    assert svc.gold.finalize() == (1, 1)
    entries = {e["id"]: e for e in map(orjson.loads, svc.redis.lrange(svc.queue.outbox_key, 0, -1)) if e.get("kind") == "gold"}
    assert (entries["g1"]["correct"], entries["g1"]["proposal_correct"], entries["g1"]["agreed_with_proposal"]) == (
        True, True, True)
    assert (entries["g2"]["correct"], entries["g2"]["proposal_correct"], entries["g2"]["agreed_with_proposal"]) == (
        False, False, True)


def test_a_new_version_takes_over_a_tampered_one_is_refused_and_before_any_the_upload_is_shown(settings_factory):
    settings = settings_factory(**review_sections())
    client = connect(settings.redis)
    registry = ModelRegistry.from_settings(client, settings)
    clock = [0.0]
    proposals = LiveProposals(settings, registry, clock=lambda: clock[0])
    assert proposals.propose(GOLD[0]["record"]) is None  # no version yet: the caller shows the upload
    registry.publish(trained(settings, "cat", "dog", version=1)[0])
    clock[0] += CHECK_SECONDS
    first = proposals.propose(GOLD[0]["record"])
    assert (first.label, first.model_version) == ("cat", 1)
    registry.publish(trained(settings, "dog", "cat", version=2)[0])
    assert proposals.propose(GOLD[0]["record"]).model_version == 1  # not looked up again within CHECK_SECONDS
    clock[0] += CHECK_SECONDS
    second = proposals.propose(GOLD[0]["record"])
    assert (second.label, second.model_version) == ("dog", 2)
    client.set(registry.snapshot_key(3), b"not a signed snapshot")
    registry.set_latest(3)
    clock[0] += CHECK_SECONDS
    assert proposals.propose(GOLD[0]["record"]).model_version == 2  # refused: stays on the verified version


def test_uploaded_mode_shows_the_uploaded_proposal_whatever_the_model_says(service):
    svc, http, headers = service(mode="uploaded")
    ModelRegistry.from_settings(svc.redis, svc.settings).publish(trained(svc.settings, "cat", "dog", version=1)[0])
    time.sleep(CHECK_SECONDS)
    item = http.post("/api/v1/claim", headers=headers["ana"]).json()["item"]
    assert (item["proposed_label"], item["model_version"]) == ("bird", None)


class Broken:
    """A model version whose every prediction raises (picklable: a module-level class)."""

    classes: tuple[str, ...] = ()
    n_learned = 0
    name = "broken"

    def predict_many(self, xs):  # noqa: ANN001, ANN201
        raise RuntimeError("this model cannot predict")

    predict_proba_many = predict_many


def test_a_model_that_cannot_score_a_gold_item_never_fails_a_claim(service, caplog):
    svc, http, headers = service()
    state, _engine = trained(svc.settings, "cat", "dog", version=1)
    ModelRegistry.from_settings(svc.redis, svc.settings).publish(
        ModelState(model=Broken(), featurizer=state.featurizer, version=1))
    item = http.post("/api/v1/claim", headers=headers["ana"]).json()["item"]
    gold_id = svc.queue.item_field(key_of(svc.redis, svc.settings.redis.key_prefix, item), "gold")
    uploaded = next(g["proposed_label"] for g in GOLD if g["id"] == gold_id)
    assert (item["proposed_label"], item["model_version"]) == (uploaded, None)
    assert "model version 1 cannot score a gold item (RuntimeError: this model cannot predict)" in caplog.text
