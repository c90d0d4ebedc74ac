"""The review API on the real service, broker, Redis and learner: auth, conflicts, bad input, the answer path."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from review_support import (
    LABELS,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_sections,
    start_review,
    wait_enqueued,
    wait_for,
)

from labelstream.kafka.outcomes import read_ledger
from labelstream.kafka.topics import create_topics
from labelstream.processes import service
from labelstream.review.auth import TokenStore
from labelstream.store.connection import connect
from stack_support import unique_settings

pytestmark = pytest.mark.integration

ITEMS = 15
CALLS = [
    ("POST", "/api/v1/claim", None),
    ("POST", "/api/v1/answer", {"id": "api0", "lease": "x", "label": "cat"}),
    ("POST", "/api/v1/skip", {"id": "api0", "lease": "x"}),
    ("POST", "/api/v1/heartbeat", {"id": "api0", "lease": "x"}),
    ("POST", "/api/v1/undo", None),
    ("GET", "/api/v1/stats", None),
    ("GET", "/api/v1/labels", None),
    ("GET", "/api/v1/guidelines", None),
    ("GET", "/api/v1/me", None),
    ("POST", "/api/v1/admin/expire", {"ids": ["api0"]}),
    ("GET", "/api/v1/recent", None),
    ("GET", "/api/v1/admin/overview", None),
    ("POST", "/api/v1/correct", {"answer_id": "api0#1", "label": "cat"}),
]


@pytest.fixture(scope="module")
def stack(kafka_up, redis_up, tmp_path_factory):
    guidelines = tmp_path_factory.mktemp("guidelines") / "guidelines.md"
    guidelines.write_text("# How to label\n\n**cat**: anything feline. <script>alert(1)</script>\n")
    settings = unique_settings(kafka_up, 3, **review_sections(guidelines_file=str(guidelines)))
    create_topics(settings)
    log_dir = tmp_path_factory.mktemp("review-api-logs")
    learner = service(settings, "learner", log_dir).start()
    review = start_review(settings, log_dir)
    learner.wait_until_serving(90)
    publish_requests(settings, [request(f"api{i}", priority=1 - i / 100) for i in range(ITEMS)])
    admin = new_token(settings, "boss", "admin")
    with client(review, admin) as boss:
        wait_enqueued(boss, ITEMS)
    yield SimpleNamespace(settings=settings, review=review, learner=learner, admin=admin)
    review.stop(20)
    learner.stop(20)


def learner_results(stack) -> dict[str, float]:
    return {
        line.split('result="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in stack.learner.metrics_text().splitlines()
        if line.startswith("labelstream_corrections_total{")
    }


def test_every_call_needs_a_valid_token_and_writes_nothing_without_one(stack):
    revoked = new_token(stack.settings, "gone")
    TokenStore(connect(stack.settings.redis), stack.settings.redis.key_prefix).revoke("gone")
    with client(stack.review, stack.admin) as boss:
        before = boss.get("/api/v1/stats").json()["queue"]
    for token in (None, "lsr_not-a-real-token", "Basic abc", revoked):
        with client(stack.review, None) as anyone:
            headers = {} if token is None else {"Authorization": token if token.startswith("Basic") else f"Bearer {token}"}
            for method, path, body in CALLS:
                response = anyone.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (token, path, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
            # an invalid body is not even looked at
            assert anyone.post("/api/v1/answer", json={"nonsense": 1}, headers=headers).status_code == 401
    with client(stack.review, stack.admin) as boss:
        assert boss.get("/api/v1/stats").json()["queue"] == before
    assert [c for c in corrections(stack.settings) if c["id"] == "api0"] == []


def test_an_answer_goes_to_corrections_under_the_tokens_reviewer_and_is_learned(stack):
    with client(stack.review, new_token(stack.settings, "ana")) as ana:
        item = ana.post("/api/v1/claim").json()["item"]
        assert item["labels"] == LABELS and item["record"]["features"] and item["reason"] == "uncertain"
        forged = ana.post("/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "dog", "reviewer": "mallory"})
        assert forged.status_code == 422 and "reviewer" in forged.json()["detail"]
        answer = ana.post("/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "dog", "note": "ears"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["answer_id"] == f"{item['id']}#1" and answer.json()["state"] == "done"
        stats = ana.get("/api/v1/stats").json()
        assert stats["reviewer"] == "ana" and stats["me"]["answered_today"] == 1
    published = wait_for(lambda: [c for c in corrections(stack.settings) if c["id"] == item["id"]], 30, "the correction")
    assert [(c["label"], c["reviewer"], c["note"], c["kind"]) for c in published] == [("dog", "ana", "ears", "answer")]
    # the learner joins it with what the queue kept (the labeler never stored this record) and learns it
    wait_for(lambda: learner_results(stack).get("learned") == 1, 60, "the answer learned")
    labels = read_ledger(stack.settings).human_labels[item["id"]]
    assert [(v["label"], v["reviewer"]) for v in labels] == [("dog", "ana")]


def test_a_reviewer_corrects_a_recent_answer_and_the_learner_takes_the_new_label(stack):
    with client(stack.review, new_token(stack.settings, "eve")) as eve:
        first, second = [], []
        for holder, label in ((first, "dog"), (second, "cat")):
            item = eve.post("/api/v1/claim").json()["item"]
            holder.append(eve.post("/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": label}).json())
        recent = eve.get("/api/v1/recent").json()
        assert [a["answer_id"] for a in recent["answers"]] == [second[0]["answer_id"], first[0]["answer_id"]]
        assert recent["answers"][1]["correctable_until"] > recent["answers"][1]["answered_at"]
        body = {"answer_id": first[0]["answer_id"], "label": "bird", "note": "it has wings"}
        assert eve.post("/api/v1/correct", json=body | {"label": "maybe"}).status_code == 422
        fixed = eve.post("/api/v1/correct", json=body)
        assert fixed.status_code == 200, fixed.text
        assert eve.post("/api/v1/correct", json=body).json() == fixed.json()  # sent again: the same, nothing more
        stale = eve.post("/api/v1/correct", json=body | {"label": "cat"})
        assert stale.status_code == 409 and "corrected or undone since" in stale.json()["detail"]
        assert eve.get("/api/v1/recent").json()["answers"][1] | {"answered_at": 0, "correctable_until": 0} == {
            "id": first[0]["id"], "answer_id": fixed.json()["answer_id"], "label": "bird", "answered_at": 0,
            "correctable_until": 0, "corrected_from": "dog", "overlap": False}
        assert eve.get("/api/v1/stats").json()["me"]["answered_today"] == 2  # a correction is not one more answer
    record = first[0]["id"]
    published = wait_for(lambda: (c := [c for c in corrections(stack.settings) if c["id"] == record]) and len(c) == 3 and c,
                         30, "the answer, its retraction and the new answer")
    assert [(c["kind"], c["label"], c.get("supersedes"), c.get("note")) for c in published] == [
        ("answer", "dog", None, None), ("retraction", "dog", first[0]["answer_id"], None),
        ("answer", "bird", first[0]["answer_id"], "it has wings")]  # supersedes: the learner counts the record once
    # the latest human label of the record is the corrected one
    wait_for(lambda: [v["label"] for v in read_ledger(stack.settings).human_labels.get(record, [])][-1:] == ["bird"], 60,
             "the corrected label on labels")


def test_a_reviewer_not_sure_skips_with_a_note_and_the_next_one_reads_it(stack):
    with client(stack.review, new_token(stack.settings, "fay")) as fay, client(stack.review, new_token(stack.settings, "gil")) as gil:
        item = fay.post("/api/v1/claim").json()["item"]
        assert item["skip_notes"] == []
        skipped = fay.post("/api/v1/skip", json={"id": item["id"], "lease": item["lease"], "note": "not sure: a fox?"})
        assert skipped.status_code == 200, skipped.text
        again = gil.post("/api/v1/claim").json()["item"]
        assert again["id"] == item["id"]
        assert [(n["reviewer"], n["note"]) for n in again["skip_notes"]] == [("fay", "not sure: a fox?")]
        assert gil.post("/api/v1/release", json={"id": again["id"], "lease": again["lease"]}).status_code == 200
    assert [c for c in corrections(stack.settings) if c["id"] == item["id"]] == []  # a skip publishes nothing


def test_another_reviewers_lease_is_a_conflict(stack):
    with client(stack.review, new_token(stack.settings, "bob")) as bob, client(stack.review, new_token(stack.settings, "cyd")) as cyd:
        item = bob.post("/api/v1/claim").json()["item"]
        for path, body in (
            ("/api/v1/answer", {"id": item["id"], "lease": item["lease"], "label": "cat"}),
            ("/api/v1/skip", {"id": item["id"], "lease": item["lease"]}),
            ("/api/v1/heartbeat", {"id": item["id"], "lease": item["lease"]}),
            ("/api/v1/release", {"id": item["id"], "lease": item["lease"]}),
        ):
            response = cyd.post(path, json=body)
            assert response.status_code == 409, response.text
            assert "not yours" in response.json()["detail"]
        assert cyd.post("/api/v1/undo").status_code == 409  # nothing of cyd's to undo
        assert bob.post("/api/v1/heartbeat", json={"id": item["id"], "lease": item["lease"]}).status_code == 200
        # bob leaves (closes the page): the item is cyd's at once, not when bob's lease would have ended
        assert bob.post("/api/v1/release", json={"id": item["id"], "lease": item["lease"]}).json() == {"id": item["id"], "released": True}
        taken = cyd.post("/api/v1/claim").json()["item"]
        assert taken["id"] == item["id"]
        assert cyd.post("/api/v1/skip", json={"id": taken["id"], "lease": taken["lease"]}).status_code == 200
    assert [c for c in corrections(stack.settings) if c["id"] == item["id"]] == []


def test_a_label_outside_the_label_set_is_refused_and_nothing_is_learned(stack):
    learned_before = learner_results(stack).get("learned", 0)
    with client(stack.review, new_token(stack.settings, "dee")) as dee:
        item = dee.post("/api/v1/claim").json()["item"]
        response = dee.post("/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "maybe"})
        assert response.status_code == 422
        assert "label set (cat, dog, bird)" in response.json()["detail"] and "labels add" in response.json()["detail"]
        for bad in ({"id": item["id"], "lease": item["lease"], "label": ""}, {"id": item["id"], "lease": item["lease"]},
                    {"id": "", "lease": item["lease"], "label": "cat"}, {"id": item["id"], "lease": "x" * 65, "label": "cat"}):
            assert dee.post("/api/v1/answer", json=bad).status_code == 422, bad
        assert dee.post("/api/v1/answer", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
        # the item is still dee's: the refused answers changed nothing
        assert dee.post("/api/v1/claim").json()["item"]["id"] == item["id"]
        assert dee.post("/api/v1/skip", json={"id": item["id"], "lease": item["lease"]}).status_code == 200
    assert [c for c in corrections(stack.settings) if c["id"] == item["id"]] == []
    assert learner_results(stack).get("learned", 0) == learned_before
    assert "unknown_label" not in learner_results(stack)


def test_admin_calls_need_the_admin_role(stack):
    with client(stack.review, new_token(stack.settings, "eve")) as eve, client(stack.review, stack.admin) as boss:
        assert eve.post("/api/v1/admin/expire", json={"ids": ["api11"]}).status_code == 403
        assert boss.post("/api/v1/admin/expire", json={"ids": ["api11", "no-such-item"]}).json() == {"expired": 1}
        assert boss.get("/api/v1/me").json() == {"reviewer": "boss", "role": "admin"}
        assert eve.get("/api/v1/admin/overview").status_code == 403
        view = boss.get("/api/v1/admin/overview").json()
    # what the earlier tests of this module did, seen by the lead: ana answered one, eve two (one corrected),
    # fay skipped one with a note that is waiting again, every request here is "uncertain"
    days = view["reviewers"]
    assert (days["ana"]["answered_today"], days["eve"]["answered_today"], days["fay"]["skipped_today"]) == (1, 2, 1)
    assert days["ana"]["seconds_per_answer"] > 0 and days["ana"]["holding"] is None
    [(reason, row)] = view["waiting_by_reason"].items()
    assert (reason, row["waiting"], row["with_notes"]) == ("uncertain", view["queue"]["waiting"], 1)
    assert 0 < row["oldest_seconds"] < 600 and view["counted"] == row["waiting"] and not view["capped"]
    # the same from the command line, straight from Redis, while eve holds a record (and left the page open)
    from typer.testing import CliRunner

    from labelstream.cli.main import app

    def cli(*args: str) -> str:
        env = {"LABELSTREAM_REDIS__URL": stack.settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": stack.settings.redis.key_prefix}
        result = CliRunner().invoke(app, ["review", *args], env=env, terminal_width=80)
        assert result.exit_code == 0, result.output
        return result.stdout

    with client(stack.review, new_token(stack.settings, "eve")) as eve, client(stack.review, stack.admin) as boss:
        held = eve.post("/api/v1/claim").json()["item"]  # the best-ranked: the one fay skipped with a note
        printed = cli("status")
        assert re.search(rf"^uncertain +{row['waiting'] - 1} +0 +0 +[\d.]+ (ms|seconds?|minutes?)$", printed, re.MULTILINE), printed
        assert re.search(r"^fay +0 +1 +- ", printed, re.MULTILINE), printed
        assert re.search(rf"^eve +2 +0 +[\d.]+ +- +{held['id']}$", printed, re.MULTILINE), printed
        assert max(len(line) for line in printed.splitlines()) <= 80
        assert eve.post("/api/v1/admin/requeue", json={"reviewer": "eve"}).status_code == 403
        # the lead takes it back: into the queue now, and eve's page learns it at its next heartbeat
        assert cli("requeue", "--reviewer", "eve").strip() == "requeued 1 held item(s)"
        assert eve.post("/api/v1/heartbeat", json={"id": held["id"], "lease": held["lease"]}).status_code == 409
        assert boss.post("/api/v1/admin/requeue", json={"ids": [held["id"]]}).json() == {"requeued": 0}  # not held now
        assert boss.get("/api/v1/admin/overview").json()["held"] == []


def test_guidelines_labels_probes_metrics_and_openapi(stack):
    with client(stack.review, new_token(stack.settings, "fay")) as fay:
        guidelines = fay.get("/api/v1/guidelines").json()
        assert guidelines["configured"] and "<strong>cat</strong>" in guidelines["html"]
        assert "<script>" not in guidelines["html"]
        assert fay.get("/api/v1/labels").json() == {"labels": LABELS, "open": False}
        assert fay.get("/livez").status_code == 200 and fay.get("/readyz").json()["healthy"] is True
        metrics = fay.get("/metrics").text
        for name in ("labelstream_review_queue_items", "labelstream_review_answers_total", "labelstream_review_answer_seconds_bucket",
                     "labelstream_review_leases_expired_total", "labelstream_review_consolidated_total"):
            assert name in metrics, name
        page = fay.get("/")
        assert page.status_code == 200 and "labelstream review" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        spec = fay.get("/openapi.json").json()
    for path in ("/api/v1/claim", "/api/v1/answer", "/api/v1/skip", "/api/v1/undo", "/api/v1/stats", "/api/v1/labels"):
        assert path in spec["paths"], path
    claim = spec["paths"]["/api/v1/claim"]["post"]
    assert {"200", "204", "401"} <= set(claim["responses"]) and claim["security"] == [{"HTTPBearer": []}]
