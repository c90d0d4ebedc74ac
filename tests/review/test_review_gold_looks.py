"""What a gold instance shows (review/gold.py, "Looks"): the replaced real item's request time and record fields
other than content, its own content, and nothing of its gold identity."""

from __future__ import annotations

import time

import orjson
import pytest
from review_support import GOLD, new_token

from labelstream.core.schemas import SCHEMA_VERSION
from labelstream.review.items import QueueItem

pytestmark = pytest.mark.integration

WAITED = 754.25
"""How long the real item has waited when the gold instance replaces it: the page must not read "0 s ago"."""


def stream_request(record_id: str, requested: float) -> bytes:
    """A review request as the labeler writes it: the record's bytes as produced, with a source, an event time,
    metadata, a producer's own field and one named label (never borrowed)."""
    record = {"schema_version": 1, "id": record_id, "features": {"x": 0.25, "colour": "green"}, "text": "the real text",
              "source": "phishing.csv", "timestamp": 1764000000.5, "metadata": {"shop": "s1"}, "channel": "email",
              "label": "dog"}
    return orjson.dumps({
        "schema_version": SCHEMA_VERSION, "id": record_id, "record": record, "proposed_label": "cat",
        "probabilities": {"cat": 0.55, "dog": 0.3, "bird": 0.15}, "reason": "uncertain", "priority": 0.5,
        "inclusion_probability": 1.0, "model_version": 3, "timestamp": requested, "context": {}, "flagged_answer": None,
    })


def enqueue_stream(env, record_id: str, requested: float) -> None:  # noqa: ANN001
    env.service.queue.enqueue([QueueItem.from_request(stream_request(record_id, requested))])


BORROWED = {"schema_version": 1, "source": "phishing.csv", "timestamp": 1764000000.5, "metadata": {"shop": "s1"}, "channel": "email"}


def test_a_gold_item_shows_the_replaced_items_request_time_and_record_fields_never_its_content(make_gold):
    env = make_gold()
    requested = time.time() - WAITED
    enqueue_stream(env, "phishing-17", requested)
    served = {}
    for _ in GOLD:
        item = env.claim("ana")
        served[env.gold_of(item)] = item
        env.answer("ana", item, "cat")
    real = env.claim("ana")
    assert real["id"] == "phishing-17" and env.gold_of(real) is None
    for gold_id, item in served.items():
        uploaded = next(g["record"] for g in GOLD if g["id"] == gold_id)
        assert item["requested_at"] == pytest.approx(requested, abs=1e-3) == real["requested_at"]
        assert {key: item["record"][key] for key in BORROWED} == BORROWED
        assert item["record"]["features"] == uploaded["features"]  # its own content, never the real one's
        assert item["record"].get("text") == uploaded.get("text") and "label" not in item["record"]
        assert item["record"]["id"] == item["id"] != "phishing-17"
    g2 = served["g2"]  # a gold record with text: the same fields as the real record's, the label field apart
    assert set(g2["record"]) == set(real["record"]) - {"label"}
    assert set(g2) == set(real)


def test_an_expert_gets_the_experts_item_itself_never_a_gold_item_in_its_place(make_gold):
    """A gold item would lack the record's "for an expert" badge and notes: the claim serves the real item instead
    (docs/review.md, "Tells left"); with only plain items left, the expert gets gold items as anyone does."""
    env = make_gold()
    env.tokens["eve"] = new_token(env.settings, "eve", "expert")
    requested = time.time() - WAITED
    enqueue_stream(env, "phishing-18", requested)
    env.service.queue.unsure("phishing-18", *_lease_of(env, "ana", "phishing-18"), note="two animals")  # to the experts
    item = env.claim("eve")
    assert item["id"] == "phishing-18" and env.gold_of(item) is None
    assert item["expert"] and [n["note"] for n in item["skip_notes"]] == ["two animals"]
    assert env.service.redis.scard(f"{env.settings.redis.key_prefix}:review:gold:served:eve") == 0  # offer unused
    enqueue_stream(env, "phishing-19", requested)
    env.answer("eve", item, "cat")
    plain = env.claim("eve")
    assert env.gold_of(plain) is not None and plain["id"].startswith("phishing-1")
    assert {key: plain["record"][key] for key in BORROWED} == BORROWED


def _lease_of(env, reviewer: str, record_id: str) -> tuple[str, str]:  # noqa: ANN001
    """Lease ``record_id`` to ``reviewer`` without a gold offer: (reviewer, lease)."""
    claim = env.service.queue.claim(reviewer)
    assert claim.item is not None and claim.item.id == record_id
    return reviewer, claim.item.lease


def test_nothing_of_a_gold_items_identity_is_shown(make_gold):
    marked = [{"id": "gold-set-7", "label": "bird", "record": {
        "features": {"x": 3.0}, "text": "a wren", "source": "gold-upload.csv", "timestamp": 1.0,
        "metadata": {"set": "gold-v2"}}}]
    env = make_gold(gold=marked)
    requested = time.time() - WAITED
    enqueue_stream(env, "phishing-19", requested)
    item = env.claim("ana")
    assert env.gold_of(item) == "gold-set-7"
    shown = orjson.dumps(item).decode()
    assert "gold" not in shown.lower() and "1.0," not in shown  # its id, upload source, metadata, event time
    assert item["record"]["source"] == "phishing.csv" and item["record"]["timestamp"] == 1764000000.5
    assert item["record"]["metadata"] == {"shop": "s1"} and item["record"]["text"] == "a wren"
    assert item["requested_at"] == pytest.approx(requested, abs=1e-3)
    reload = env.claim("ana")  # a page reload shows the same
    assert reload["record"] == item["record"] and reload["requested_at"] == item["requested_at"]


def test_real_records_named_as_the_gold_item_or_the_item_replaced_are_queued_and_served(make_gold):
    """The instance's key names neither (a random id): a real record with either id is no replay to the queue."""
    env = make_gold(gold=GOLD[:1])
    enqueue_stream(env, "phishing-20", time.time() - WAITED)
    gold = env.claim("ana")
    assert env.gold_of(gold) == "g1" and gold["id"] not in {"g1", "phishing-20"}
    assert env.service.queue.enqueue([QueueItem.from_request(stream_request("g1", time.time()))]) == 1
    env.answer("ana", gold, "cat")
    served = []
    for _ in range(2):  # ana has had her gold item: the real ones, oldest first
        item = env.claim("ana")
        served.append(item["id"])
        env.answer("ana", item, "cat")
    assert served == ["phishing-20", "g1"] and env.claim("ana") is None


def test_a_replaced_item_whose_request_cannot_be_read_leaves_the_gold_item_its_own_look(make_gold):
    env = make_gold(gold=GOLD[:1])
    enqueue_stream(env, "phishing-21", time.time() - WAITED)
    env.service.redis.hset(f"{env.settings.redis.key_prefix}:review:item:phishing-21", "request", b"{not json")
    before = time.time()
    item = env.claim("ana")  # the claim does not fail on it
    assert env.gold_of(item) == "g1" and item["requested_at"] >= before - 1e-3
    assert set(item["record"]) == {"id", "features"}
