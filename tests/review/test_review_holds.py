"""Reviewer holds (review/holds.py): a reviewer whose gold accuracy rules out review.gold_hold_below gets no items."""

from __future__ import annotations

import time

import orjson
import pytest
from review_support import LABELS, corrections

from labelstream.review.gold import RECENT_DAYS, ReviewerGold
from labelstream.review.holds import CLEAR_SECONDS, held_by

pytestmark = pytest.mark.integration

# twelve gold items (a reviewer is never served one twice): enough for the default 10 answers a hold needs
GOLD12 = [{"id": f"h{n}", "record": {"features": {"x": float(n)}}, "label": LABELS[n % 3]} for n in range(12)]
TRUTH = {g["id"]: g["label"] for g in GOLD12}


def answer_gold(env, who: str, n: int, right: int) -> None:  # noqa: ANN001
    """``who`` answers ``n`` gold items, the first ``right`` of them right; all made final now."""
    for k in range(n):
        item = env.claim(who)
        truth = TRUTH[env.gold_of(item)]
        env.answer(who, item, truth if k < right else next(label for label in LABELS if label != truth))
    env.service.gold.finalize()


def claim_status(env, who: str) -> tuple[int, str]:  # noqa: ANN001
    response = env.call(who, "POST", "claim")
    return response.status_code, response.json()["detail"] if response.status_code >= 400 else ""


def test_a_reviewer_whose_gold_accuracy_rules_out_the_floor_is_held_and_the_lead_clears_them(make_gold):
    env = make_gold(undo_seconds=0.0, gold=GOLD12, gold_hold_below=0.8, gold_hold_min_answers=10)
    env.enqueue("real1")
    answer_gold(env, "bob", 12, right=4)  # 33 % of 12: interval 14-61 %, all under 80 %
    answer_gold(env, "ana", 12, right=10)  # 83 % of 12: the interval reaches 80 %
    status, detail = claim_status(env, "bob")
    assert status == 403
    assert detail.startswith("held from new items: your gold accuracy over the last 7 days is 33% of 12 "
                             "(95 % interval 14%-61%), below the 80% this service asks (review.gold_hold_below)")
    assert env.service.metrics.value("labelstream_review_claims_held_total") == 1
    assert claim_status(env, "ana")[0] == 200
    stats = env.call("boss", "GET", "admin/gold").json()
    assert (stats["held"], stats["hold_below"], stats["hold_min_answers"]) == (1, 0.8, 10)
    assert stats["reviewers"]["bob"]["held"] and not stats["reviewers"]["ana"]["held"]
    assert env.call("boss", "GET", "admin/overview").json()["gold"] == stats

    assert env.call("bob", "POST", "admin/gold/reviewers/bob/clear").status_code == 403  # a reviewer cannot
    before = time.time()
    cleared = env.call("boss", "POST", "admin/gold/reviewers/bob/clear").json()
    assert cleared["reviewer"] == "bob" and before + CLEAR_SECONDS <= cleared["cleared_until"] <= time.time() + CLEAR_SECONDS
    assert claim_status(env, "bob")[0] in (200, 204)  # takes items again
    after = env.call("boss", "GET", "admin/gold").json()
    assert after["held"] == 0 and after["reviewers"]["bob"]["cleared_until"] == cleared["cleared_until"]
    # the clearance ends when the window has forgotten the answers behind the hold: nothing holds bob then
    assert env.service.holds.check("bob", now=cleared["cleared_until"] + 1) is None


def test_holds_are_off_by_default_and_need_enough_recent_answers(make_gold):
    env = make_gold(undo_seconds=0.0, gold=GOLD12)
    env.enqueue("real1")
    answer_gold(env, "bob", 12, right=0)
    assert claim_status(env, "bob")[0] == 200  # off: gold_hold_below is 0
    assert env.call("boss", "GET", "admin/gold").json()["reviewers"]["bob"]["held"] is False

    few = make_gold(undo_seconds=0.0, gold=GOLD12, gold_hold_below=0.8, gold_hold_min_answers=10)
    few.enqueue("real1")
    answer_gold(few, "bob", 9, right=0)  # 9 wrong: one answer short of a hold
    assert claim_status(few, "bob")[0] == 200
    answer_gold(few, "bob", 1, right=0)
    assert claim_status(few, "bob")[0] == 403
    now = time.time()
    hold = few.service.holds.check("bob", now=now)
    assert (hold.answers, hold.right) == (10, 0)
    # eight days on the answers are out of the 7-day window: the hold ends by itself
    assert few.service.holds.check("bob", now=now + (RECENT_DAYS + 1) * 86400) is None


@pytest.mark.parametrize(("answers", "right", "held"), [
    (10, 5, True),  # Wilson 24-76 %: rules out 80 %
    (10, 6, False),  # 31-83 %: 80 % is still possible
    (30, 20, False),  # 49-81 %
    (30, 19, True),  # 46-79 %
    (9, 0, False),  # 0-30 %, but one answer short of the 10 asked
])
def test_held_by_needs_enough_answers_and_the_intervals_high_end_under_the_floor(answers, right, held):
    assert held_by(ReviewerGold(answers, right), 0.8, 10) is held
    assert held_by(ReviewerGold(answers, right), 0.0, 10) is False  # 0: holds off


def test_the_learner_is_told_of_a_hold_when_it_refuses_a_claim_and_of_its_end_when_a_claim_is_granted(make_gold):
    env = make_gold(undo_seconds=0.0, gold=GOLD12, gold_hold_below=0.8, gold_hold_min_answers=10)
    env.enqueue("real1", "real2")
    answer_gold(env, "bob", 12, right=4)
    answer_gold(env, "ana", 12, right=10)

    def holds() -> list[dict]:
        return [entry for raw in env.outbox() if (entry := orjson.loads(raw))["kind"] == "hold"]

    assert holds() == []  # bob's figures rule out the floor, but no claim was refused yet
    assert claim_status(env, "ana")[0] == 200 and holds() == []  # a reviewer never held: nothing to tell
    assert claim_status(env, "bob")[0] == 403
    assert claim_status(env, "bob")[0] == 403  # told once
    told = holds()
    assert [(h["id"], h["reviewer"], h["held"], h["label"]) for h in told] == [("hold:bob", "bob", True, "held")]
    assert env.service.holds.told_held() == {"bob"}
    env.call("boss", "POST", "admin/gold/reviewers/bob/clear")
    assert claim_status(env, "bob")[0] in (200, 204)
    assert [(h["held"], h["label"]) for h in holds()] == [(True, "held"), (False, "released")]
    assert env.service.holds.told_held() == set()

    assert env.service.leader.hold()
    env.service.publisher.recover()
    while env.service.publisher.publish_once():
        pass
    published = [c for c in corrections(env.settings) if c["kind"] == "hold"]
    assert [(c["schema_version"], c["held"]) for c in published] == [("1.3", True), ("1.3", False)]
