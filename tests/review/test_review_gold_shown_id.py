"""A gold instance's shown id, apart from its key (review/gold.py, "Shown id"; docs/review.md, "Looks").

The instance stays in the queue under its random key (never shown); the reviewer sees an id shaped like the id of
the real record it replaced, and every call from their side (answer, skip, not sure, release, heartbeat, undo,
recent answers, corrections) is resolved to the key through their gold lease. A real record whose id equals a shown
id is queued and answered on its own; a call under a lease that has ended never lands on the instance.
"""

from __future__ import annotations

import re
import secrets
import time

import orjson
import pytest
from review_support import GOLD, new_token, request

from labelstream.review.gold import GoldOffer
from labelstream.review.items import QueueItem
from labelstream.review.queue_store import LeaseConflict

pytestmark = pytest.mark.integration

KEY = re.compile(r"^[0-9a-f]{24}$")


def classes(record_id: str) -> str:
    """Each character's class: d(igit), l(ower), u(pper), or the character itself."""
    return "".join("d" if c.isdigit() else "l" if c.islower() else "u" if c.isupper() else c for c in record_id)


def enqueue_ids(env, *ids: str) -> None:  # noqa: ANN001
    """Real requests with these ids (the first ranks first: all requested now, in this order)."""
    now = time.time()
    env.service.queue.enqueue(
        [
            QueueItem.from_request(request(i, timestamp=now - 100 + n).model_dump_json().encode())
            for n, i in enumerate(ids)
        ]
    )


def gold_claims(env, replaced: str, n: int) -> list[str]:  # noqa: ANN001
    """The ids ``n`` gold instances are shown under in place of ``replaced`` (claims by n reviewers, offers made
    by hand: one gold item, a new instance each)."""
    offer = env.service.gold.offer("nobody", 1.0)
    shown = []
    for i in range(n):
        gold = GoldOffer(secrets.token_hex(12), offer.gold_id, offer.truth, offer.request, offer.content)
        claim = env.service.queue.claim(f"r{i}", gold=gold)
        assert claim.item is not None and claim.item.key == gold.instance
        assert claim.item.id == claim.item.request["id"] == claim.item.request["record"]["id"]
        shown.append(claim.item.id)
    return shown


HEX, TOKEN = set("0123456789abcdef"), set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.mark.parametrize(
    ("replaced", "kept", "alphabet"),
    [
        ("phishing-17", "phishing-1", None),  # a counter: its leading half kept
        ("web07", "web0", None),  # a counter after a word
        ("order_2026_12_03_000451", "order_2026_12_03_000", None),  # a date before the counter stays
        ("alpha-beta", "alpha-", None),  # no digit: the last word drawn again
        ("3f2a9c4e-1b2c-4d3e-8f9a-0b1c2d3e4f5a", "", HEX),  # a UUID: its hex digits drawn again
        ("018f3c2a-7b1e-7c3d-9a4f-6e5d4c3b2a19", "018f3c2a-", HEX),  # a UUID v7: its time prefix kept
        ("INV-x7Kq9Z", "INV-", TOKEN),  # a random token after a word
        ("tok-3f2a9c", "tok-", HEX),  # a short hex token: hex digits
        ("feed-47", "feed-4", None),  # hex letters, but a word and a counter
    ],
)
def test_the_shown_id_is_shaped_like_the_replaced_one(make_gold, replaced, kept, alphabet):
    """Counters and words: each character of its class; random ids: each drawn from the whole alphabet, so that its
    pattern of digits and letters is not the replaced id's (shown next, often)."""
    env = make_gold(gold=GOLD[:1])
    enqueue_ids(env, replaced)
    shown = gold_claims(env, replaced, 40)
    for record_id in shown:
        assert len(record_id) == len(replaced) and record_id.startswith(kept), record_id
        assert record_id != replaced and not KEY.match(record_id)
        assert [i for i, c in enumerate(record_id) if not c.isalnum()] == [
            i for i, c in enumerate(replaced) if not c.isalnum()
        ]
        if alphabet is None:
            assert classes(record_id) == classes(replaced), record_id
        else:
            assert set(record_id[len(kept) :]) - {"-"} <= alphabet, record_id
    assert len(set(shown)) > 5  # drawn again per instance (seeded by its key), the kept part never
    if alphabet is not None:  # the pattern of digits and letters is drawn too: the replaced one's about 1 % of the time
        assert sum(classes(record_id) == classes(replaced) for record_id in shown) <= 5
    if len(replaced) == 36:  # a UUID: the version stays, the variant is one of 8, 9, a, b
        assert {record_id[14] for record_id in shown} == {replaced[14]}
        assert {record_id[19] for record_id in shown} == set("89ab")


def test_the_reviewer_is_never_shown_the_key_and_every_call_works_by_the_shown_id(make_gold):
    env = make_gold(gold=GOLD[:1], undo_seconds=30.0, correct_seconds=900.0)
    enqueue_ids(env, "phishing-17")
    item = env.claim("ana")
    key = env.key_of(item)
    assert env.gold_of(item) == "g1" and KEY.match(key) and item["id"].startswith("phishing-1")
    assert key not in orjson.dumps(item).decode()
    reload = env.claim("ana")
    assert (reload["id"], reload["lease"], reload["record"]) == (item["id"], item["lease"], item["record"])

    beat = env.call("ana", "POST", "heartbeat", {"id": item["id"], "lease": item["lease"]})
    assert beat.status_code == 200, beat.text
    answered = env.answer("ana", item, "dog")
    assert answered["answer_id"] == f"{item['id']}#1" and answered["id"] == item["id"]
    again = env.answer("ana", item, "dog")  # the same answer sent again after a lost response: the same reply
    assert again["answer_id"] == answered["answer_id"]
    assert env.service.queue.item_field(key, "state") == "done"

    recent = env.call("ana", "GET", "recent").json()["answers"]
    assert [(a["id"], a["answer_id"]) for a in recent] == [(item["id"], f"{item['id']}#1")]
    assert key not in orjson.dumps(recent).decode()
    refused = env.call("ana", "POST", "correct", {"answer_id": answered["answer_id"], "label": "cat"})
    assert refused.status_code == 409 and "control item" in refused.json()["detail"]  # resolved to the instance

    undone = env.call("ana", "POST", "undo")
    assert undone.status_code == 200, undone.text
    back = undone.json()
    assert back["item"]["id"] == item["id"] and back["retraction_id"] == f"{item['id']}#2"
    assert key not in orjson.dumps(back).decode() and env.key_of(back["item"]) == key
    assert env.call("ana", "GET", "recent").json()["answers"] == []
    final = env.answer("ana", back["item"], "cat")
    assert final["answer_id"] == f"{item['id']}#3"
    entry = orjson.loads(env.service.redis.hget(f"{env.settings.redis.key_prefix}:review:gold:entries", key))
    assert (entry["id"], entry["label"], entry["correct"]) == ("g1", "cat", True)


def test_a_reviewer_never_sees_two_gold_items_under_one_shown_id(make_gold):
    """Eight gold items in place of ``a5`` (a one-digit counter: nine ids to draw from), each handed back: eight
    different ids. Drawn independently, two would coincide in all but 0.8 % of runs, and a reviewer seeing one id
    twice with other content knows one of the two was gold."""
    gold = [{**GOLD[n % len(GOLD)], "id": f"g{n}"} for n in range(8)]
    env = make_gold(gold=gold)
    enqueue_ids(env, "a5")
    shown = []
    for _ in gold:
        item = env.claim("ana")
        assert env.gold_of(item) is not None and item["id"] != "a5"
        shown.append(item["id"])
        assert env.call("ana", "POST", "release", {"id": item["id"], "lease": item["lease"]}).status_code == 200
    assert len(set(shown)) == len(shown) == 8, shown
    assert all(re.fullmatch(r"a\d", record_id) for record_id in shown), shown
    assert env.claim("ana")["id"] == "a5"  # every gold item served to her: the real record


@pytest.mark.parametrize("call", ["skip", "release", "unsure"])
def test_handing_a_gold_item_back_by_its_shown_id_ends_the_instance(make_gold, call):
    env = make_gold(gold=GOLD[:1])
    env.tokens["eve"] = new_token(env.settings, "eve", "expert")
    enqueue_ids(env, "phishing-17")
    item = env.claim("ana")
    assert item["id"].startswith("phishing-1") and env.gold_of(item) == "g1"
    sent = env.call("ana", "POST", call, {"id": item["id"], "lease": item["lease"]})
    assert sent.status_code == 200, sent.text
    assert env.service.queue.state(env.key_of(item)) == "expired"
    assert env.service.queue.state("phishing-17") == "waiting"  # the replaced record still waits
    assert env.claim("ana")["id"] == "phishing-17"


def test_a_real_record_with_the_shown_id_arriving_while_the_instance_is_held_gets_its_own_outcome(make_gold):
    env = make_gold(gold=GOLD[:1])
    enqueue_ids(env, "phishing-17")
    gold = env.claim("ana")
    shown = gold["id"]
    assert shown != "phishing-17"
    enqueue_ids(env, shown)  # the stream sends a real record that has the shown id
    assert env.service.queue.state(shown) == "waiting"  # queued, not taken for a replay
    real = env.service.queue.claim("bob").item  # bob, without a gold offer: the real records in line
    assert real is not None and real.id == real.key == "phishing-17"
    env.service.queue.answer(real.id, "bob", real.lease, "cat")
    same = env.service.queue.claim("bob").item
    assert (same.id, same.key) == (shown, shown)

    # each call goes to the item its lease is for: bob's to the real record, ana's to her gold instance
    assert env.call("bob", "POST", "heartbeat", {"id": shown, "lease": same.lease}).status_code == 200
    assert env.call("ana", "POST", "heartbeat", {"id": shown, "lease": gold["lease"]}).status_code == 200
    crossed = env.call("ana", "POST", "answer", {"id": shown, "lease": same.lease, "label": "dog"})
    assert crossed.status_code == 409  # bob's lease: not ana's
    env.answer("ana", gold, "dog")
    bob = env.call("bob", "POST", "answer", {"id": shown, "lease": same.lease, "label": "bird"})
    assert bob.status_code == 200 and bob.json()["answer_id"] == f"{shown}#1"

    published = [orjson.loads(raw) for raw in env.outbox()]
    assert [(c["id"], c["reviewer"], c["label"], c["kind"]) for c in published] == [
        ("phishing-17", "bob", "cat", "answer"),
        (shown, "bob", "bird", "answer"),
    ]
    assert env.service.queue.state(shown) == "done" and env.service.queue.state(env.key_of(gold)) == "done"
    entry = orjson.loads(
        env.service.redis.hget(f"{env.settings.redis.key_prefix}:review:gold:entries", env.key_of(gold))
    )
    assert (entry["id"], entry["reviewer"], entry["label"]) == ("g1", "ana", "dog")


def test_a_call_by_the_shown_id_after_the_gold_lease_is_gone_never_lands_on_the_instance(make_gold):
    env = make_gold(gold=GOLD[:1], lease_seconds=30.0)
    enqueue_ids(env, "phishing-17")
    gold = env.claim("ana")
    key, shown = env.key_of(gold), gold["id"]
    env.service.queue.requeue([key])  # the lead takes it back: the instance ends
    assert env.service.queue.state(key) == "expired"
    enqueue_ids(env, shown)  # a real record with the shown id, now leased to bob
    env.service.queue.claim("bob")  # phishing-17
    real = env.service.queue.claim("ana").item  # ana, without an offer: the record with the shown id
    assert real is not None and real.key == shown
    for call, body in (("answer", {"label": "dog"}), ("heartbeat", {}), ("skip", {}), ("release", {})):
        late = env.call("ana", "POST", call, {"id": shown, "lease": gold["lease"], **body})
        assert late.status_code == 409, (call, late.text)
    assert env.service.queue.state(key) == "expired" and env.service.queue.item_field(key, "seq") == "0"
    assert env.service.queue.item_fields(shown, "state", "holder", "lease") == ["leased", "ana", real.lease]
    assert env.outbox() == []
    with pytest.raises(LeaseConflict):  # the queue's own verbs resolve the same way
        env.service.queue.answer(shown, "ana", gold["lease"], "dog")
    env.service.queue.answer(shown, "ana", real.lease, "cat")  # the real record's lease answers the real record
    assert [orjson.loads(raw)["id"] for raw in env.outbox()] == [shown]


def test_the_recent_answers_page_after_a_gold_answer_by_its_shown_id(make_gold):
    env = make_gold(gold=GOLD[:1])
    enqueue_ids(env, "phishing-17", "phishing-18", "phishing-19")
    answered = []
    for _ in range(4):  # the gold item first, in phishing-17's place, then the three real ones
        item = env.claim("ana")
        env.answer("ana", item, "cat")
        answered.append(item["id"])
    assert answered[1:] == ["phishing-17", "phishing-18", "phishing-19"] and answered[0].startswith("phishing-1")
    first = env.call("ana", "GET", "recent?limit=3").json()
    assert [a["id"] for a in first["answers"]] == answered[::-1][:3] and first["next_cursor"] == "phishing-17"
    last = env.call("ana", "GET", f"recent?limit=3&cursor={first['next_cursor']}").json()
    assert [a["id"] for a in last["answers"]] == [answered[0]] and last["next_cursor"] is None
    two = env.call("ana", "GET", "recent?limit=1&cursor=phishing-18").json()
    assert [a["id"] for a in two["answers"]] == ["phishing-17"] and two["next_cursor"] == "phishing-17"
    gold = env.call("ana", "GET", f"recent?cursor={answered[0]}").json()  # the shown id is a cursor too
    assert gold["answers"] == []


def test_a_counter_is_drawn_only_up_to_the_highest_the_queue_has_seen_of_its_shape(make_gold):
    """web12 (first in line) and web17 wait: ``web1`` and a digit drawn, of which 18 and 19 are ahead of the stream (a
    real record may come later under that id), 10-16 not (13-16 thanks to the ingest's highest counter, 17, the replaced
    id being 12). Six gold items each for ana and bob: the six ids at or below 17 the queue does not know, each once
    (drawn as before, 18 or 19 came among them in all but 0.13 % of runs)."""
    gold = [{**GOLD[n % len(GOLD)], "id": f"g{n}"} for n in range(6)]
    env = make_gold(gold=gold)
    enqueue_ids(env, "web12", "web17")
    assert env.service.redis.get(f"{env.settings.redis.key_prefix}:review:counter_max:web##") == b"17"
    for reviewer in ("ana", "bob"):
        shown = []
        for _ in gold:
            item = env.claim(reviewer)
            assert env.gold_of(item) is not None
            shown.append(item["id"])
            assert env.call(reviewer, "POST", "release", {"id": item["id"], "lease": item["lease"]}).status_code == 200
        assert sorted(shown) == ["web10", "web11", "web13", "web14", "web15", "web16"], (reviewer, shown)


def test_a_counter_ahead_of_the_stream_is_shown_only_when_every_id_behind_it_is_taken(make_gold):
    """web10 alone: every id drawn (web11-web19) is ahead of it; the gold item is shown under one of them all the same
    (a neighbour ahead is a smaller tell than the key), and the ingest keeps the highest counter of each shape."""
    env = make_gold(gold=GOLD[:1])
    enqueue_ids(env, "web10", "web03", "order-2026-0451", "3f2a9c4e-1b2c-4d3e-8f9a-0b1c2d3e4f5a")
    item = env.claim("ana")
    assert env.gold_of(item) is not None and re.fullmatch(r"web1[1-9]", item["id"]), item["id"]
    stored = {
        key.decode().rsplit(":", 1)[1]: env.service.redis.get(key).decode()
        for key in env.service.redis.scan_iter(f"{env.settings.redis.key_prefix}:review:counter_max:*")
    }
    assert stored == {"web##": "10", "order-2026-####": "0451"}  # a UUID has no counter


def test_a_short_counter_whose_neighbours_the_reviewer_all_answered_still_gets_a_shaped_id(make_gold):
    """Of the drawn ids none is new to the queue nor unseen by her: the first drawn one all the same, not the key."""
    env = make_gold(gold=GOLD[:1])
    neighbours = [f"phishing-{d}" for d in range(10) if d != 7]
    enqueue_ids(env, *neighbours, "phishing-7")
    for _ in neighbours:  # ana answers every neighbour (claims without a gold offer)
        item = env.service.queue.claim("ana").item
        env.service.queue.answer(item.id, "ana", item.lease, "cat")
    gold = env.claim("ana")
    assert env.gold_of(gold) == "g1" and gold["id"] in neighbours


def test_no_gold_item_in_place_of_an_item_with_a_badge_or_notes(make_gold):
    """Overlap, skipped with a note, "no expert took it": the claim serves the real item (review.gold_share 1); a plain
    one still gets the gold item."""
    env = make_gold(gold=GOLD[:1])
    raw = request("phishing-21").model_dump_json().encode()
    env.service.queue.enqueue([QueueItem.from_request(raw, overlap_share=1.0, overlap_k=2)])  # an overlap item
    item = env.claim("ana")
    assert item["id"] == "phishing-21" and item["overlap"] and env.gold_of(item) is None
    env.answer("ana", item, "cat")

    env = make_gold(gold=GOLD[:1], expert_wait_seconds=60.0)
    env.tokens["eve"] = new_token(env.settings, "eve", "expert")
    enqueue_ids(env, "phishing-22", "phishing-23", "phishing-24")
    for record_id, how in (("phishing-22", "skip"), ("phishing-23", "unsure")):
        claim = env.service.queue.claim("bob").item  # bob hands them back with a note, without a gold offer
        assert claim.id == record_id
        getattr(env.service.queue, how)(claim.id, "bob", claim.lease, note="two animals")
    assert env.service.queue.time_out_experts(now=time.time() + 61) == 1  # phishing-23: "no expert took it"
    served = []
    for _ in range(3):
        item = env.claim("ana")
        served.append((item["id"], env.gold_of(item), bool(item["skip_notes"]), item["no_expert"]))
        env.answer("ana", item, "cat")
    # the oldest first: the two items with notes as themselves, then the gold item in place of the plain one
    assert served[:2] == [("phishing-22", None, True, False), ("phishing-23", None, True, True)]
    assert served[2][1] == "g1" and served[2][0].startswith("phishing-2") and not served[2][2]


def test_a_real_answer_with_a_gold_answers_shown_answer_id_is_the_one_corrected(make_gold):
    """Ana answers a gold item shown as S, then the real record S: both answers read S#1; a correction of S#1 means
    the newer, her real answer (the gold one could not be corrected anyway)."""
    env = make_gold(gold=GOLD[:1], correct_seconds=900.0)
    enqueue_ids(env, "phishing-17")
    gold = env.claim("ana")
    env.answer("ana", gold, "cat")
    enqueue_ids(env, gold["id"])
    env.answer("ana", env.claim("ana"), "cat")  # phishing-17
    real = env.claim("ana")
    assert real["id"] == gold["id"] and env.gold_of(real) is None
    assert env.answer("ana", real, "dog")["answer_id"] == f"{gold['id']}#1"
    assert [a["answer_id"] for a in env.call("ana", "GET", "recent").json()["answers"]].count(f"{gold['id']}#1") == 2
    fixed = env.call("ana", "POST", "correct", {"answer_id": f"{gold['id']}#1", "label": "bird"})
    assert fixed.status_code == 200 and fixed.json()["id"] == gold["id"] and fixed.json()["changed"]
