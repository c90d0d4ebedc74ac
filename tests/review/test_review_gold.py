"""Gold items (review/gold.py): upload, serving among real items, scoring once the undo window has passed, stats."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from review_support import GOLD, LABELS, corrections, new_token, wait_for

pytestmark = pytest.mark.integration



def test_admins_upload_gold_items_checked_against_the_label_set_and_delete_them(make_gold):
    env = make_gold(upload=False)
    assert env.call("ana", "POST", "admin/gold", {"items": GOLD}).status_code == 403
    cow = env.call("boss", "POST", "admin/gold", {"items": [*GOLD, {**GOLD[0], "id": "g9", "label": "cow"}]})
    assert cow.status_code == 422 and "'cow' is not in the label set" in cow.json()["detail"]
    proposal = env.call("boss", "POST", "admin/gold", {"items": [{**GOLD[0], "proposed_label": "cow"}]})
    assert proposal.status_code == 422
    no_features = env.call("boss", "POST", "admin/gold", {"items": [{"id": "g9", "record": {"x": 1}, "label": "cat"}]})
    assert no_features.status_code == 422 and "features" in no_features.json()["detail"]
    assert env.call("boss", "GET", "admin/gold").json()["count"] == 0  # nothing of a refused upload is stored

    first = env.call("boss", "POST", "admin/gold", {"items": GOLD}).json()
    assert (first["added"], first["replaced"], first["count"]) == (3, 0, 3)
    again = env.call("boss", "POST", "admin/gold", {"items": GOLD[:1]}).json()
    assert (again["added"], again["replaced"], again["count"]) == (0, 1, 3)
    assert env.call("ana", "DELETE", "admin/gold/g1").status_code == 403
    assert env.call("boss", "DELETE", "admin/gold/g1").json() == {"id": "g1", "deleted": True}
    missing = env.call("boss", "DELETE", "admin/gold/g1")
    assert missing.status_code == 404 and "no gold item 'g1'" in missing.json()["detail"]
    stats = env.call("boss", "GET", "admin/gold").json()
    assert stats == {"count": 2, "share": 1.0, "pending": 0, "reviewers": {}, "recent_days": 7, "items": [], "items_answered": 0,
                     "to_check": 0, "suspect_min_answers": 5, "suspect_below": 0.5, "hold_below": 0.0,
                     "hold_min_answers": 10, "held": 0, "none_left": 0}


def test_at_share_1_a_claim_gets_a_gold_item_that_looks_like_a_real_one(make_gold):
    env = make_gold()
    env.enqueue("real1")
    served = {}
    for _ in range(3):
        item = env.claim("ana")
        gold_id = env.gold_of(item)
        assert gold_id is not None and item["id"] not in {"g1", "g2", "g3", "real1"} and "gold" not in item["id"]
        assert item["record"]["id"] == item["id"] and not item["overlap"]
        served[gold_id] = item
        env.answer("ana", item, "cat")
    assert sorted(served) == ["g1", "g2", "g3"]  # each once
    g1, g2, g3 = served["g1"], served["g2"], served["g3"]
    assert g1["record"]["features"] == {"x": 1.5, "colour": "red"}
    assert (g1["proposed_label"], g1["probabilities"], g1["reason"]) == ("dog", {"cat": 0.4, "dog": 0.6}, "uncertain")
    assert (g2["proposed_label"], g2["probabilities"], g2["reason"]) == (None, {}, "cold_start")  # no proposal
    assert g2["record"]["text"] == "a bird" and g2["labels"] == LABELS
    assert (g3["proposed_label"], g3["reason"]) == ("dog", "uncertain")
    assert env.claim("ana")["id"] == "real1"  # every gold item served to ana: the real queue


def test_a_gold_item_comes_only_in_place_of_a_real_one(make_gold):
    env = make_gold()
    assert env.claim("ana") is None  # nothing for ana: no gold item either (an idle page would tell it)
    env.enqueue("real1")
    item = env.claim("ana")
    assert env.gold_of(item) is not None and env.service.queue.state("real1") == "waiting"  # real1 stays in line
    env.answer("ana", item, "cat")
    assert env.gold_of(env.claim("bob")) is not None  # real1 is still there for bob's claim


def test_at_share_0_no_gold_item_is_served(make_gold):
    env = make_gold(share=0.0)
    env.enqueue(*(f"r{i}" for i in range(5)))
    for _ in range(5):
        item = env.claim("ana")
        assert env.gold_of(item) is None
        env.answer("ana", item, "cat")
    assert env.claim("ana") is None


def test_a_reviewer_never_gets_the_same_gold_item_twice_whatever_they_did_with_it(make_gold):
    env = make_gold()
    env.enqueue("real1", "real2")
    seen = []
    skipped = env.claim("ana")
    assert env.call("ana", "POST", "skip", {"id": skipped["id"], "lease": skipped["lease"]}).status_code == 200
    released = env.claim("ana")
    hb = env.call("ana", "POST", "heartbeat", {"id": released["id"], "lease": released["lease"]})
    assert hb.status_code == 200 and hb.json()["lease_expires_at"] >= released["lease_expires_at"]
    assert env.call("ana", "POST", "release", {"id": released["id"], "lease": released["lease"]}).status_code == 200
    held = env.claim("ana")
    assert env.claim("ana")["id"] == held["id"]  # a reload returns the held gold item
    seen = [env.gold_of(skipped), env.gold_of(released), env.gold_of(held)]
    assert sorted(seen) == ["g1", "g2", "g3"]
    # handed back, a gold instance ends: never served to anyone else, nor queued
    for item in (skipped, released):
        assert env.service.queue.state(env.key_of(item)) == "expired"
    env.answer("ana", held, "cat")
    assert {env.claim("ana")["id"]} <= {"real1", "real2"}
    assert env.gold_of(env.claim("bob")) in {"g1", "g2", "g3"}  # bob has his own


def test_not_sure_or_an_expired_lease_ends_a_gold_item_and_nobody_else_is_served_it(make_gold):
    env = make_gold()
    env.tokens["eve"] = new_token(env.settings, "eve", "expert")
    env.enqueue("real1", "real2")
    unsure = env.claim("ana")
    sent = env.call("ana", "POST", "unsure", {"id": unsure["id"], "lease": unsure["lease"]})
    assert sent.status_code == 200 and sent.json() == {"id": unsure["id"]}  # no count of the experts' line
    assert env.service.queue.state(env.key_of(unsure)) == "expired"  # not in the experts' line
    assert env.key_of(env.claim("eve")) != env.key_of(unsure)  # a shown id may repeat (drawn near real1): the key not
    lapsed = env.claim("ana")
    assert env.service.queue.reap(now=time.time() + 3600) == 2  # ana's and eve's leases
    assert env.service.queue.state(env.key_of(lapsed)) == "expired"
    late = env.call("ana", "POST", "answer", {"id": lapsed["id"], "lease": lapsed["lease"], "label": "cat"})
    assert late.status_code == 409 and env.service.gold.pending() == 0
    third = env.claim("ana")
    assert len({env.gold_of(unsure), env.gold_of(lapsed), env.gold_of(third)}) == 3
    assert env.service.queue.counts().waiting == 2  # the real items never left the line


def test_a_gold_answer_is_scored_and_published_once_as_kind_gold_after_the_undo_window(make_gold):
    env = make_gold(undo_seconds=1.0)
    env.enqueue("real1")
    truth = {g["id"]: g["label"] for g in GOLD}
    for who, label in (("ana", "cat"), ("bob", "dog")):  # g1 right for ana, wrong for bob; g2, g3 right
        for _ in GOLD:
            item = env.claim(who)
            env.answer(who, item, label if env.gold_of(item) == "g1" else truth[env.gold_of(item)])
    assert not any(b'"gold"' in raw for raw in env.outbox())  # nothing published within the undo window
    assert env.service.gold.finalize() == (0, 0)
    refused = env.call("bob", "POST", "correct", {"answer_id": f"{item['id']}#1", "label": "bird"})
    assert refused.status_code == 409 and "known answer" in refused.json()["detail"]

    env.service.start_threads()  # the leader's loops: finalize, publish
    wait_for(lambda: len([c for c in corrections(env.settings) if c["kind"] == "gold"]) >= 6, 30, "6 gold corrections")
    time.sleep(1.5)  # more maintenance turns: nothing published twice
    published = corrections(env.settings)
    gold = [c for c in published if c["kind"] == "gold"]
    assert Counter(c["answer_id"] for c in gold).most_common(1)[0][1] == 1 and len(gold) == 6
    assert {(c["reviewer"], c["id"], c["label"], c["correct"]) for c in gold if c["id"] == "g1"} == {
        ("ana", "g1", "cat", True), ("bob", "g1", "dog", False)}
    assert all(c["schema_version"] == "1.2" for c in gold)
    # shown with a proposal (g1: "dog", wrong; g3: "dog", right): was it right, was it taken; g2 had none
    shown = {(c["reviewer"], c["id"]): (c["proposal_correct"], c["agreed_with_proposal"]) for c in gold}
    assert shown == {("ana", "g1"): (False, False), ("bob", "g1"): (False, True), ("ana", "g3"): (True, True),
                     ("bob", "g3"): (True, True), ("ana", "g2"): (None, None), ("bob", "g2"): (None, None)}
    assert [c for c in published if c["kind"] != "gold"] == []  # no answer, no retraction
    metrics = env.service.metrics
    right = metrics.value("labelstream_review_gold_answers_total", result="right")
    wrong = metrics.value("labelstream_review_gold_answers_total", result="wrong")
    assert (right, wrong) == (5, 1)
    assert metrics.value("labelstream_review_corrections_published_total", kind="gold") == 6


def test_undo_withdraws_a_gold_answer_before_it_is_published_and_the_new_one_counts(make_gold):
    env = make_gold(undo_seconds=30.0)
    env.enqueue("real1")
    item = env.claim("ana")
    truth = {g["id"]: g["label"] for g in GOLD}[env.gold_of(item)]
    wrong = next(label for label in LABELS if label != truth)
    env.answer("ana", item, wrong)
    assert env.service.gold.pending() == 1
    undone = env.call("ana", "POST", "undo")
    assert undone.status_code == 200, undone.text
    again = undone.json()["item"]
    assert again["id"] == item["id"] and undone.json()["withdrawn_label"] == wrong
    assert env.service.gold.pending() == 0 and env.outbox() == []  # no retraction: nothing was published
    env.answer("ana", again, truth)
    assert env.service.gold.finalize(now=time.time() + 31) == (1, 0)
    assert env.call("ana", "POST", "undo").status_code == 409  # final now
    entries = env.outbox()
    assert len(entries) == 1 and b'"correct":true' in entries[0] and b'"kind":"gold"' in entries[0]
    stats = env.call("boss", "GET", "admin/gold").json()
    one = {"answers": 1, "right": 1, "accuracy": 1.0, "low": 0.207, "high": 1.0}
    assert stats["reviewers"] == {"ana": {**one, "recent": one, "held": False, "cleared_until": None, "gold_left": 2}}


def test_gold_stats_per_reviewer_in_the_gold_endpoint_and_the_overview(make_gold):
    env = make_gold(undo_seconds=0.0)
    env.enqueue("real1")
    truth = {g["id"]: g["label"] for g in GOLD}
    for who, wrong_on in (("ana", set()), ("bob", {"g1", "g2"})):
        for _ in range(3):
            item = env.claim(who)
            gold_id = env.gold_of(item)
            env.answer(who, item, "bird" if gold_id in wrong_on and truth[gold_id] != "bird" else
                       ("cat" if gold_id in wrong_on else truth[gold_id]))
    assert env.service.gold.finalize() == (4, 2)
    stats = env.call("boss", "GET", "admin/gold").json()
    assert stats["count"] == 3 and stats["pending"] == 0
    ana, bob = stats["reviewers"]["ana"], stats["reviewers"]["bob"]
    assert (ana["answers"], ana["right"], ana["accuracy"]) == (3, 3, 1.0)
    assert (bob["answers"], bob["right"]) == (3, 1) and bob["low"] < bob["accuracy"] < bob["high"]
    assert env.call("ana", "GET", "admin/gold").status_code == 403
    overview = env.call("boss", "GET", "admin/overview").json()
    assert overview["gold"] == stats



def test_a_reviewer_served_every_gold_item_shows_none_left_until_more_are_uploaded(make_gold):
    env = make_gold(undo_seconds=0.0)
    env.enqueue("real1")
    truth = {g["id"]: g["label"] for g in GOLD}
    metrics = env.service.metrics
    for left in (2, 1, 0):  # share 1: each claim a gold item, each read at its claim
        item = env.claim("ana")
        assert metrics.value("labelstream_review_gold_left", reviewer="ana") == left
        env.answer("ana", item, truth[env.gold_of(item)])
    bob = env.claim("bob")
    env.answer("bob", bob, truth[env.gold_of(bob)])
    assert env.service.gold.finalize() == (4, 0)
    assert env.claim("ana")["id"] == "real1"  # ana answers real items on, no gold item more
    assert metrics.value("labelstream_review_gold_left", reviewer="ana") == 0
    assert b'labelstream_review_gold_left{reviewer="ana"} 0.0' in metrics.exposition()
    stats = env.call("boss", "GET", "admin/gold").json()
    assert {name: row["gold_left"] for name, row in stats["reviewers"].items()} == {"ana": 0, "bob": 2}
    assert stats["none_left"] == 1
    assert env.call("boss", "GET", "admin/overview").json()["gold"] == stats

    more = [{**GOLD[0], "id": f"g{n}"} for n in (4, 5)]
    assert env.call("boss", "POST", "admin/gold", {"items": more}).json()["added"] == 2
    stats = env.call("boss", "GET", "admin/gold").json()
    assert {name: row["gold_left"] for name, row in stats["reviewers"].items()} == {"ana": 2, "bob": 4}
    assert stats["none_left"] == 0
    assert env.claim("ana")["id"] == "real1"  # the record she holds, again: nothing served, two left
    assert metrics.value("labelstream_review_gold_left", reviewer="ana") == 2


def test_at_share_0_nobody_counts_as_out_of_gold_items(make_gold):
    env = make_gold(share=0.0, undo_seconds=0.0, gold=GOLD[:1])
    env.service.gold.client.sadd(f"{env.service.gold.served_prefix}ana", "g1")  # served before the share went to 0
    env.service.gold.client.hset(env.service.gold.answers_key, "ana", 1)
    env.enqueue("real1")
    env.claim("ana")
    assert env.service.metrics.value("labelstream_review_gold_left", reviewer="ana") is None  # not exported
    stats = env.call("boss", "GET", "admin/gold").json()
    assert stats["reviewers"]["ana"]["gold_left"] == 0 and stats["none_left"] == 0


def test_a_gold_item_most_reviewers_answer_otherwise_is_flagged_to_check_its_label(make_gold):
    env = make_gold(undo_seconds=0.0)
    env.enqueue("real1")
    truth = {g["id"]: g["label"] for g in GOLD}
    people = ["ana", "bob", "cy", "di", "ed"]
    for name in people[2:]:
        env.tokens[name] = new_token(env.settings, name, "reviewer")
    for n, who in enumerate(people):  # g3 (known label dog): 4 of 5 answer cat; g1, g2: right but for ana on g1
        for _ in GOLD:
            item = env.claim(who)
            gold_id = env.gold_of(item)
            wrong = (gold_id == "g3" and n > 0) or (gold_id == "g1" and who == "ana")
            env.answer(who, item, ("cat" if gold_id == "g3" else "bird") if wrong else truth[gold_id])
    assert env.service.gold.finalize() == (10, 5)
    stats = env.call("boss", "GET", "admin/gold").json()
    assert (stats["items_answered"], stats["to_check"]) == (3, 1)
    assert [(i["id"], i["answers"], i["right"], i["share_right"], i["top_wrong"], i["top_wrong_answers"], i["check_label"])
            for i in stats["items"]] == [("g3", 5, 1, 0.2, "cat", 4, True), ("g1", 5, 4, 0.8, "bird", 1, False),
                                         ("g2", 5, 5, 1.0, None, 0, False)]
    assert env.call("boss", "GET", "admin/overview").json()["gold"] == stats  # the admin page's figures
    assert env.call("boss", "DELETE", "admin/gold/g3").status_code == 200  # removed: its figures go
    assert [i["id"] for i in env.call("boss", "GET", "admin/gold").json()["items"]] == ["g1", "g2"]


def test_recent_gold_figures_count_only_the_answers_made_final_in_the_last_days(make_gold):
    from labelstream.review.gold import DAYS_KEPT, ReviewerGold
    from labelstream.review.overview import gold_stats

    env = make_gold(undo_seconds=0.0)
    env.enqueue("real1")
    truth = {g["id"]: g["label"] for g in GOLD}
    for _ in range(2):  # ana: two right answers, made final today
        item = env.claim("ana")
        env.answer("ana", item, truth[env.gold_of(item)])
    now = time.time()
    assert env.service.gold.finalize(now) == (2, 0)
    item = env.claim("ana")  # then a wrong one, made final ten days later
    env.answer("ana", item, "bird" if truth[env.gold_of(item)] != "bird" else "cat")
    later = now + 10 * 86400
    assert env.service.gold.finalize(later) == (0, 1)
    week = gold_stats(env.service.gold, 1.0, 7, now=later).reviewers["ana"]
    assert (week.answers, week.right, week.recent.answers, week.recent.right) == (3, 2, 1, 0)
    assert week.recent.accuracy == 0.0 and (week.recent.low, week.recent.high) == ReviewerGold(1, 0).interval
    fortnight = gold_stats(env.service.gold, 1.0, 14, now=later).reviewers["ana"].recent
    assert (fortnight.answers, fortnight.right) == (3, 2)
    assert gold_stats(env.service.gold, 1.0, 7, now=later + 8 * 86400).reviewers["ana"].recent is None
    ttls = [env.service.redis.ttl(key) for key in env.service.redis.keys(f"{env.settings.redis.key_prefix}:review:gold:day:*")]
    assert len(ttls) == 3 and all(DAYS_KEPT * 86400 < ttl <= (DAYS_KEPT + 1) * 86400 for ttl in ttls)  # 2 days, 1 right
    stats = env.call("boss", "GET", "admin/gold?days=30").json()  # today's figures: the two right answers
    assert stats["recent_days"] == 30 and stats["reviewers"]["ana"]["recent"]["answers"] == 2
    assert env.call("boss", "GET", f"admin/gold?days={DAYS_KEPT + 1}").status_code == 422
    misspelt = env.call("boss", "GET", "admin/gold?day=30")  # not silently the default week
    assert misspelt.status_code == 422 and "unknown query parameter 'day' (days is known)" in misspelt.json()["detail"]


def test_the_lead_sees_which_gold_item_a_held_gold_instance_is_and_reviewers_do_not(make_gold):
    env = make_gold()
    env.enqueue("real1")
    item = env.claim("ana")
    gold_id = env.gold_of(item)
    held = env.call("boss", "GET", "admin/overview").json()["held"]
    assert [(h["id"], h["reviewer"], h["gold"], h["shown"]) for h in held] == [(env.key_of(item), "ana", gold_id, item["id"])]
    assert "gold" not in item and gold_id not in str(item) and env.key_of(item) not in str(item)  # nor its key
    from typer.testing import CliRunner

    from labelstream.cli.main import app
    from labelstream.review.overview import lead_overview  # noqa: F401 - the CLI draws the same view
    settings = env.settings
    status = CliRunner().invoke(app, ["review", "status"], env={
        "LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix})
    row = next(line for line in status.stdout.splitlines() if line.startswith("ana"))
    assert row.split()[-2:] == ["gold", gold_id]

