"""The waiting counter reviewers see hides which claim was gold (review/queue_counter.py, claim.lua's hidden_on_counter()).

A gold claim leaves the real item it replaced in line; a real claim takes one out. On an exact counter a reviewer
alone saw the difference. Now reviewers see the count rounded down to a step from ``queue_counter_exact_below`` on,
and a gold item comes only where a real claim would leave that figure as it is: never below the threshold, never
at a multiple of the step.
"""

from __future__ import annotations

import pytest
from review_support import (
    GOLD,
    client,
    key_of,
    new_token,
    publish_requests,
    request,
    review_sections,
    start_review,
    wait_enqueued,
)

from labelstream.store.connection import connect

pytestmark = pytest.mark.integration

COUNTER = {"queue_counter_exact_below": 10, "queue_counter_step": 10}


def test_a_reviewer_alone_sees_the_counter_alike_after_a_gold_claim_and_a_real_one(settings_factory, tmp_path):
    """The review service as a process on the broker and Redis, 13 requests on the review topic, one gold item, every
    claim offered it (share 1): ana's first claim is the gold item, her second a real record; her counter reads "10+"
    before and after each (exact, it read 13, 13, 12: the gold claim was the one that did not lower it)."""
    settings = settings_factory(**review_sections(gold_share=1.0, undo_seconds=0.0, **COUNTER))
    review = start_review(settings, tmp_path / "logs")
    redis = connect(settings.redis)
    try:
        with (
            client(review, new_token(settings, "ana")) as ana,
            client(review, new_token(settings, "lead", "admin")) as lead,
        ):
            assert lead.post("/api/v1/admin/gold", json={"items": GOLD[:1]}).json()["count"] == 1
            publish_requests(settings, [request(f"web{i:02d}") for i in range(13)])
            wait_enqueued(lead, 13)

            def counters() -> tuple[tuple[int, bool], int]:
                """(what ana sees: waiting and whether rounded, what the lead sees)"""
                mine = ana.get("/api/v1/stats").json()["queue"]
                return (mine["waiting"], mine["waiting_rounded"]), lead.get("/api/v1/admin/overview").json()["queue"][
                    "waiting"
                ]

            def claim_and_answer() -> tuple[bool, tuple[tuple[int, bool], int]]:
                """(was it gold, the counters while she holds it); then she answers it."""
                item = ana.post("/api/v1/claim").json()["item"]
                gold = redis.hget(
                    f"{settings.redis.key_prefix}:review:item:{key_of(redis, settings.redis.key_prefix, item)}", "gold"
                )
                seen = counters()
                assert (
                    ana.post(
                        "/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "cat"}
                    ).status_code
                    == 200
                )
                return gold is not None, seen

            before = counters()
            first_gold, after_first = claim_and_answer()
            second_gold, after_second = claim_and_answer()
        assert (first_gold, second_gold) == (True, False)  # the gold item, then (none left for her) a real record
        assert before[0] == after_first[0] == after_second[0] == (10, True)  # "10+" all along
        assert (before[1], after_first[1], after_second[1]) == (13, 13, 12)  # the lead's exact count
    finally:
        review.stop(20)


def test_no_gold_item_below_the_threshold_nor_where_a_real_claim_would_lower_the_figure(make_gold):
    """Three gold items, offered at every claim (share 1). Below 10 waiting (shown exactly) ana gets only real
    records; at 20 waiting ("20+", a real claim shows "10+") a real record; at 19 her gold items; at 11 bob gets a
    gold item, at 10 ("10+", a real claim shows "9") a real record."""
    env = make_gold(undo_seconds=0.0, **COUNTER)

    def work(who: str) -> bool:
        """Claim and answer one item; whether it was gold."""
        item = env.claim(who)
        assert item is not None
        env.answer(who, item, "cat")
        return env.gold_of(item) is not None

    def waiting() -> int:
        return env.service.queue.counts().waiting

    env.enqueue(*(f"r{i}" for i in range(9)))
    assert [work("ana") for _ in range(9)] == [False] * 9  # exact counter: every claim a real record
    assert env.claim("ana") is None
    env.enqueue(*(f"s{i:02d}" for i in range(20)))
    assert (waiting(), work("ana")) == (20, False)  # at a step: a real claim, 20+ -> 10+
    assert [work("ana") for _ in range(4)] == [True, True, True, False]  # at 19: her three gold items, then real
    while waiting() > 11:
        assert not work("ana")  # she has had every gold item
    assert work("bob") and waiting() == 11
    assert not work("ana") and waiting() == 10
    assert (work("bob"), waiting()) == (False, 9)  # at 10, the threshold: a real record, 10+ -> 9
    stats = env.call("bob", "GET", "stats").json()["queue"]
    assert (stats["waiting"], stats["waiting_rounded"]) == (9, False)
