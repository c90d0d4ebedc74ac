"""What a reviewer's token and the page's port can read (docs/review.md, Tells left): no figure that moves otherwise
for a gold answer than for a real one. The service on Redis (and Kafka for the process)."""

from __future__ import annotations

import time

import httpx
import pytest
from review_support import GOLD, client, new_token, publish_requests, request, review_sections, start_review, url

from labelstream.processes import free_port

OPS_PATHS = ("/metrics", "/healthz", "/readyz", "/livez")
pytestmark = pytest.mark.integration

REVIEWER_QUEUE = {"waiting", "waiting_rounded", "leased", "consolidating", "answered"}


def test_reviewer_stats_leave_out_the_outbox_that_a_gold_answer_enters_only_after_the_undo_window(make_gold) -> None:  # noqa: ANN001
    """``unpublished`` (the outbox): a real answer enters it at once, a gold one after ``undo_seconds``. The lead's
    overview keeps it; a reviewer's GET /api/v1/stats has no such field."""
    env = make_gold(share=1.0, gold=GOLD[:1])  # one gold item: ana's first claim, her second is the real record
    env.enqueue("real1")
    queue = env.call("ana", "GET", "stats").json()["queue"]
    assert set(queue) == REVIEWER_QUEUE

    gold = env.claim("ana")
    assert env.gold_of(gold) == "g1"
    env.answer("ana", gold, "cat")
    assert env.call("boss", "GET", "admin/overview").json()["queue"]["unpublished"] == 0  # the gold answer waits
    assert set(env.call("ana", "GET", "stats").json()["queue"]) == REVIEWER_QUEUE

    real = env.claim("ana")
    assert env.gold_of(real) is None
    env.answer("ana", real, "dog")
    assert env.call("boss", "GET", "admin/overview").json()["queue"]["unpublished"] == 1  # the real one is in it
    reviewer_view = env.call("ana", "GET", "stats").json()["queue"]
    assert set(reviewer_view) == REVIEWER_QUEUE
    assert reviewer_view["answered"] == 2  # what stays: both answers count the same


def test_reviewers_read_nothing_of_the_experts_line_that_a_gold_item_marked_unsure_never_joins(make_gold) -> None:  # noqa: ANN001
    """A real record marked unsure joins the experts' line (``expert``) and, when no expert takes it, goes back to
    the reviewers (``expert_timed_out``); a gold item marked unsure ends. The lead's overview keeps both counts; the
    unsure answer and a reviewer's stats have neither."""
    env = make_gold(share=1.0, gold=GOLD[:1], expert_wait_seconds=1.0)
    new_token(env.settings, "eve", "expert")  # someone to be unsure for
    env.enqueue("real1")
    for expected_gold, in_experts_line in (("g1", 0), (None, 1)):
        item = env.claim("ana")
        assert env.gold_of(item) == expected_gold
        sent = env.call("ana", "POST", "unsure", {"id": item["id"], "lease": item["lease"]})
        assert sent.json() == {"id": item["id"]}  # no count of the line
        assert env.call("boss", "GET", "admin/overview").json()["queue"]["expert"] == in_experts_line
        assert set(env.call("ana", "GET", "stats").json()["queue"]) == REVIEWER_QUEUE
    time.sleep(1.2)
    assert env.service.queue.time_out_experts() == 1  # the real record only
    assert env.call("boss", "GET", "admin/overview").json()["queue"]["expert_timed_out"] == 1
    assert set(env.call("ana", "GET", "stats").json()["queue"]) == REVIEWER_QUEUE


def test_with_ops_port_metrics_and_probes_leave_the_page_port(settings_factory, tmp_path) -> None:  # noqa: ANN001
    """With ``review.ops_port`` the page's port answers /metrics and the probes 404 (a reviewer reads nothing of the
    outbox or of gold answers made final there); the ops port serves them, and only them."""
    ops_port = free_port()
    settings = settings_factory(**review_sections(ops_port=ops_port))
    proc = start_review(settings, tmp_path)  # waits for any answer from /healthz on the page port: a 404 will do
    try:
        publish_requests(settings, [request("r1")])
        with client(proc, new_token(settings, "ana")) as ana:
            for path in OPS_PATHS:
                assert ana.get(path).status_code == 404, path
            assert ana.get("/").status_code == 200  # the page and the API stay
            assert ana.get("/api/v1/me").json()["reviewer"] == "ana"
        with httpx.Client(base_url=f"http://127.0.0.1:{ops_port}", timeout=30) as ops:
            deadline = time.monotonic() + 60
            while (ready := ops.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert ready.status_code == 200, ready.text
            assert "unpublished" in ready.json()  # the detail is the cluster's
            assert "unpublished" in ops.get("/healthz").json()
            assert ops.get("/livez").status_code == 200
            assert "labelstream_review_gold_answers_total" in ops.get("/metrics").text
            assert ops.get("/").status_code == 404  # no page, no API on the ops port
            assert ops.get("/api/v1/me").status_code == 404
        assert url(proc) != f"http://127.0.0.1:{ops_port}"
    finally:
        proc.stop()


def test_without_ops_port_metrics_and_probes_stay_on_the_page_port(settings_factory, tmp_path) -> None:  # noqa: ANN001
    """The default (``review.ops_port`` unset): all on ``review.port``, as ``make up``, compose and k8s expect."""
    settings = settings_factory(**review_sections())
    assert settings.review.ops_port is None
    proc = start_review(settings, tmp_path)
    try:
        with httpx.Client(base_url=url(proc), timeout=30) as anyone:
            assert anyone.get("/livez").status_code == 200
            assert "labelstream_review_queue_items" in anyone.get("/metrics").text
    finally:
        proc.stop()
