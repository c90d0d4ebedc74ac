"""The review page in headless Chromium (Debian's, through Playwright), on the whole loop.

Labeler, learner and review service run as processes on the real broker and
Redis; records go in, the labeler sends them to review (cold start), a person
works the page with the keyboard only: three answers, a skip, an undo and the
answer again, then a sprint of answers that gives the page's throughput. The
corrections carry the token's reviewer, the undo publishes a retraction that
supersedes the withdrawn answer, and the learner's model version advances.
Screenshots go to ``reports/review/`` (the file viewer shows them).
"""

from __future__ import annotations

import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest
from confluent_kafka import Producer
from review_support import (
    LABELS,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_sections,
    start_review,
    url,
    wait_enqueued,
    wait_for,
)

from labelstream.kafka.config import producer_config
from labelstream.processes import service, stop_all
from stack_support import REPO

pytestmark = pytest.mark.integration

SCREENSHOTS = REPO / "reports" / "review"
SPRINT = 20
TEXTS = [
    "Arrived two days late but the cat loves it; sleeps in the box more than on the bed.",
    "The bark is loud enough to wake the neighbours. Returned.",
    "Bright feathers, sings every morning; the cage latch broke after a week.",
    "Fine for a small dog, the strap is too short for a large one.",
]


def produce_records(settings, first: int, n: int) -> list[str]:
    rng = random.Random(first)
    producer = Producer(producer_config(settings.kafka))
    ids = []
    for i in range(first, first + n):
        record_id = f"web{i:02d}"
        record = {
            "id": record_id,
            "features": {
                "weight_kg": round(rng.uniform(0.02, 40), 2),
                "legs": rng.choice([2, 4]),
                "colour": rng.choice(["grey", "brown", "yellow"]),
                "age_years": rng.randint(1, 15),
            },
            "text": TEXTS[i % len(TEXTS)],
            "source": "pet-shop-reviews",
        }
        producer.produce(settings.topics.records, key=record_id.encode(), value=orjson.dumps(record))
        ids.append(record_id)
    assert producer.flush(30) == 0
    return ids


class SubPathProxy:
    """A reverse proxy serving the review service under ``/review/`` (the prefix stripped), as nginx would."""

    PREFIX = "/review"

    def __init__(self, upstream: str) -> None:
        prefix = self.PREFIX

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def forward(self) -> None:
                if not self.path.startswith(prefix + "/"):
                    self.send_error(404, "outside the proxied prefix")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")
                }
                answer = httpx.request(self.command, upstream + self.path[len(prefix) :], headers=headers, content=body)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def model_version(learner) -> float:
    for line in learner.metrics_text().splitlines():
        if line.startswith("labelstream_model_version "):
            return float(line.split()[1])
    return 0.0


def test_a_reviewer_works_the_page_with_the_keyboard_and_the_model_learns(settings_factory, chromium, tmp_path):
    guidelines = tmp_path / "guidelines.md"
    guidelines.write_text(
        "# Which animal is the review about?\n\n"
        "Label the animal the **customer** writes about, not the product.\n\n"
        "| label | when |\n|---|---|\n| cat | cats, kittens |\n| dog | dogs, puppies |\n| bird | any bird |\n\n"
        "Skip (`s`) when the review names no animal.\n"
    )
    settings = settings_factory(
        **review_sections(lease_seconds=60.0, undo_seconds=30.0, guidelines_file=str(guidelines))
    )
    logs = tmp_path / "logs"
    labeler = service(settings, "labeler", logs, instance="0").start()
    learner = service(settings, "learner", logs).start()
    review = start_review(settings, logs)
    token = new_token(settings, "ana")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        labeler.wait_until_serving(90)
        learner.wait_until_serving(90)
        version_before = model_version(learner)
        produce_records(settings, 0, 10)  # routed before any answer: cold start, no proposal
        with client(review, new_token(settings, "bo")) as bo:  # bo is not sure about the first one and says why
            passed = wait_for(
                lambda: (r := bo.post("/api/v1/claim")).status_code == 200 and r.json(), 60, "a record for bo"
            )["item"]
            bo.post(
                "/api/v1/skip", json={"id": passed["id"], "lease": passed["lease"], "note": "not sure: two animals"}
            )

        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/#token={token}")
        title = page.locator("#record-title")
        page.locator("#workspace").wait_for(state="visible", timeout=60_000)
        assert page.locator("#reviewer").inner_text() == "ana"
        assert "#token" not in page.url  # the token left the address bar
        assert page.locator("#record-title").inner_text() == passed["id"]
        assert page.locator("#skip-notes").inner_text() == "bo skipped it: not sure: two animals"
        page.screenshot(path=str(SCREENSHOTS / "review-page-skip-note.png"))

        def current() -> str:
            return title.inner_text()

        def press(key: str, expect_change: bool = True) -> str:
            before = current()
            page.keyboard.press(key)
            if expect_change:
                page.wait_for_function("b => document.getElementById('record-title').textContent !== b", arg=before)
            return before

        answered = [press("1"), press("2"), press("3")]  # cat, dog, bird
        assert len(set(answered)) == 3
        skipped = press("s")
        page.keyboard.press("u")  # the last answer comes back ...
        page.wait_for_function("id => document.getElementById('record-title').textContent === id", arg=answered[2])
        assert "your answer bird withdrawn" in page.locator("#status").inner_text()
        assert page.locator(".label-button.was-answer").get_attribute("data-label") == "bird"  # what was taken back
        press("1")  # ... and is answered again: cat
        page.wait_for_function("() => document.getElementById('count-today').textContent === '3'", timeout=20_000)
        wait_for(lambda: model_version(learner) > version_before, 60, "a new model version")
        time.sleep(1.0)  # the labeler adopts it
        produce_records(settings, 10, 30)  # routed by a model that has learned: with a proposal

        started = time.monotonic()
        sprint = [press(str(1 + i % len(LABELS))) for i in range(SPRINT)]
        elapsed = time.monotonic() - started
        page.keyboard.press("g")  # the guidelines beside the record
        page.locator("#guidelines").wait_for(state="visible")
        assert "customer" in page.locator("#guidelines-body").inner_text()
        assert page.locator("#probabilities li").count() == len(LABELS)
        page.screenshot(path=str(SCREENSHOTS / "review-page.png"))
        page.keyboard.press("g")
        page.keyboard.press("?")
        page.screenshot(path=str(SCREENSHOTS / "review-page-keys.png"))
        page.keyboard.press("Escape")
        # an earlier answer corrected from the recent answers: r, down to the one before the last, 3 = bird
        page.keyboard.press("r")
        page.locator("#recent-list .recent-row").nth(1).wait_for()
        page.keyboard.press("ArrowDown")
        holding = current()
        page.keyboard.press("3")
        page.wait_for_function("() => document.getElementById('status').textContent.includes('corrected')")
        assert current() == holding  # the digit corrected the old answer; the record on screen is still unanswered
        page.wait_for_function(
            "() => document.querySelector('#recent-list .selected .label').textContent.endsWith('→ bird')"
        )
        page.screenshot(path=str(SCREENSHOTS / "review-page-recent.png"))
        page.keyboard.press("Escape")
        page.set_viewport_size({"width": 420, "height": 860})
        page.locator(".label-button").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 420  # nothing wider than the window
        assert page.locator(".label-button").first.bounding_box()["y"] < 860  # the labels stay in view
        page.screenshot(path=str(SCREENSHOTS / "review-page-narrow.png"))
        # narrower still (a split screen): the label bar takes two rows and the page keeps room for them under it,
        # so scrolled to the bottom the bar hides none of the buttons (it hid Skip / Not sure / Undo before)
        page.set_viewport_size({"width": 300, "height": 700})
        page.wait_for_function("() => document.getElementById('labels').offsetHeight > 96")  # two rows
        page.wait_for_function(
            """() => { window.scrollTo(0, document.body.scrollHeight);
            return document.querySelector('.actions').getBoundingClientRect().bottom
                <= document.getElementById('labels').getBoundingClientRect().top; }""",
            timeout=5_000,
        )
        page.set_viewport_size({"width": 420, "height": 860})
        # behind a reverse proxy at a sub-path: every request of the page stays under the prefix
        proxy = SubPathProxy(url(review))
        try:
            proxied = chromium.new_page(viewport={"width": 1366, "height": 768})
            requests: list[str] = []
            proxied.on("request", lambda r: requests.append(r.url))
            proxied.goto(f"{proxy.url}#token={token}")
            proxied.locator("#workspace").wait_for(state="visible", timeout=30_000)
            assert proxied.locator("#reviewer").inner_text() == "ana" and proxied.locator("#record-title").inner_text()
            assert any("/api/v1/claim" in r for r in requests) and all(r.startswith(proxy.url) for r in requests), (
                requests
            )
            proxied.close()
        finally:
            proxy.close()
        # a page left open holds its record only while someone is there: no key for 10 minutes, no more heartbeats
        left_open = chromium.new_page(viewport={"width": 1366, "height": 768})
        left_open.clock.install()
        beats: list[str] = []
        left_open.on("request", lambda r: beats.append(r.url) if r.url.endswith("/heartbeat") else None)
        left_open.goto(f"{url(review)}/#token={new_token(settings, 'cy')}")
        left_open.locator("#workspace").wait_for(state="visible", timeout=30_000)
        left_open.clock.run_for("09:30")  # present (the last key 9.5 minutes ago): the heartbeats keep the record
        left_open.wait_for_timeout(300)
        present = len(beats)
        assert present >= 20, beats  # one every 20 s (a third of the 60 s lease)
        left_open.clock.run_for("10:00")
        left_open.wait_for_timeout(300)
        assert len(beats) <= present + 2 and "away?" in left_open.locator("#lease").inner_text()
        left_open.keyboard.press("1")  # back: a fresh claim, not an answer to a record whose lease ended
        left_open.wait_for_function("() => document.getElementById('status').textContent.startsWith('you were away')")
        left_open.close()
        print(
            f"review page: {SPRINT} answers by hotkey in {elapsed:.1f} s = {SPRINT / elapsed * 60:.0f} items/min "
            f"(screenshots in {SCREENSHOTS})"
        )

        def published() -> list[dict] | None:
            mine = [c for c in corrections(settings) if c["id"] in {*answered, *sprint}]
            return mine if len(mine) >= 7 + SPRINT else None

        mine = wait_for(published, 60, "the corrections")
        version_after = model_version(learner)
    finally:
        stop_all((review, learner, labeler), 20)

    assert all(c["reviewer"] == "ana" for c in mine)
    first = {c["id"]: c for c in reversed(mine) if c["kind"] == "answer"}  # the first answer of each id
    assert [first[i]["label"] for i in answered] == ["cat", "dog", "bird"]
    retraction = [c for c in mine if c["kind"] == "retraction" and c["id"] == answered[2]]
    assert len(retraction) == 1
    assert retraction[0]["supersedes"] == first[answered[2]]["answer_id"] and retraction[0]["label"] == "bird"
    again = [c for c in mine if c["id"] == answered[2] and c["kind"] == "answer"]
    assert [c["label"] for c in again] == ["bird", "cat"]
    assert skipped not in {c["id"] for c in mine}
    corrected = [(c["kind"], c["label"]) for c in mine if c["id"] == sprint[-2]]
    assert corrected == [
        ("answer", LABELS[(SPRINT - 2) % len(LABELS)]),
        ("retraction", LABELS[(SPRINT - 2) % len(LABELS)]),
        ("answer", "bird"),
    ]
    assert len({c["answer_id"] for c in mine}) == len(mine)
    assert version_after > version_before
    assert (SCREENSHOTS / "review-page.png").stat().st_size > 20_000


def test_the_lead_view_shows_the_overview_and_requeues_a_held_record(settings_factory, chromium, tmp_path):
    """The review service alone (requests put on the review topic): what the API says is what the lead reads."""
    settings = settings_factory(**review_sections(lease_seconds=120.0))
    review = start_review(settings, tmp_path / "logs")
    lead, ana = new_token(settings, "lead", "admin"), new_token(settings, "ana")
    try:
        publish_requests(
            settings,
            [
                request("cold1", 0.9, reason="cold_start"),
                request("cold2", 0.8, reason="cold_start"),
                request("cold3", 0.7, reason="cold_start"),
                request("audit1", 0.5, reason="audit"),
                request("audit2", 0.4, reason="audit"),
                request("unsure1", 0.3),
            ],
        )
        with client(review, ana) as as_ana, client(review, lead) as as_lead, client(review, None) as anonymous:
            wait_enqueued(as_lead, 6)
            first = as_ana.post("/api/v1/claim").json()["item"]
            assert (first["id"], first["reason"], first["reason_title"]) == ("cold1", "cold_start", "calibrating")
            assert (
                as_ana.post("/api/v1/answer", json={"id": "cold1", "lease": first["lease"], "label": "dog"}).status_code
                == 200
            )
            holding = as_ana.post("/api/v1/claim").json()["item"]  # cold2, held by ana
            held = holding["id"]
            assert anonymous.get("/api/v1/admin/overview").status_code == 401
            assert as_ana.get("/api/v1/admin/overview").status_code == 403
            view = as_lead.get("/api/v1/admin/overview").json()

            page = chromium.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url(review)}/admin#token={lead}")
            page.locator("#board").wait_for(state="visible", timeout=30_000)
            assert "#token" not in page.url

            def cells(selector: str) -> list[str]:
                return [c.strip() for c in page.locator(f"{selector} td").all_inner_texts()]

            for reason, row in view["waiting_by_reason"].items():
                assert cells(f"#reasons tr[data-reason='{reason}']")[:4] == [
                    row["title"],
                    str(row["waiting"]),
                    str(row["skipped"]),
                    str(row["with_notes"]),
                ]
            assert cells("#reasons tr[data-reason='cold_start']")[:2] == ["calibrating", "1"]
            assert "No threshold is proven yet" in page.locator(
                "#reasons tr[data-reason='cold_start'] td"
            ).first.get_attribute("title")
            assert page.locator("#q-waiting").inner_text() == str(view["queue"]["waiting"]) == "4"
            assert page.locator("#q-leased").inner_text() == "1"
            day = view["reviewers"]["ana"]
            assert cells("#people tr[data-reviewer='ana']") == [
                "ana",
                "1",
                "0",
                f"{day['seconds_per_answer']:.1f}",
                "–",
                "–",
                held,
            ]
            assert cells(f"#held tr[data-id='{held}']")[:2] == [held, "ana"]
            page.locator("details summary").click()  # what the reasons mean, without hovering (a phone)
            assert "calibrating (cold_start)" in page.locator("#reasons-legend").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "admin-page.png"))
            page.set_viewport_size({"width": 420, "height": 860})
            page.wait_for_timeout(200)
            assert page.evaluate("document.documentElement.scrollWidth") <= 420
            page.screenshot(path=str(SCREENSHOTS / "admin-page-narrow.png"), full_page=True)
            page.set_viewport_size({"width": 1366, "height": 768})

            page.locator(f"#held tr[data-id='{held}'] button.requeue").click()  # the lead takes it back from ana
            page.wait_for_function("() => document.getElementById('status').textContent.includes('waiting again')")
            page.locator(f"#held tr[data-id='{held}']").wait_for(state="detached")
            after = as_lead.get("/api/v1/admin/overview").json()
            assert after["held"] == [] and after["waiting_by_reason"]["cold_start"]["waiting"] == 2
            page.wait_for_function("() => document.getElementById('q-waiting').textContent === '5'")
            assert (
                as_ana.post("/api/v1/answer", json={"id": held, "lease": holding["lease"], "label": "cat"}).status_code
                == 409
            )

            # a reviewer's token: refused on the page, and no link to it on the review page; the lead has the link
            refused = chromium.new_page(viewport={"width": 1366, "height": 768})
            refused.goto(f"{url(review)}/admin#token={ana}")
            refused.locator("#refused").wait_for(state="visible", timeout=30_000)
            assert "ana has the reviewer role" in refused.locator("#refused-detail").inner_text()
            assert refused.locator("#board").is_hidden()
            refused.screenshot(path=str(SCREENSHOTS / "admin-page-refused.png"))
            refused.goto(f"{url(review)}/#token={ana}")  # the review page: the next record is a cold-start one
            refused.locator("#workspace").wait_for(state="visible", timeout=30_000)
            assert refused.locator("#reason").inner_text() == "calibrating"
            assert "No threshold is proven yet for this class" in refused.locator("#reason").get_attribute("title")
            assert refused.locator("#admin-link").is_hidden()
            refused.keyboard.press("?")
            assert (
                "Why this record is here: calibrating — No threshold is proven yet"
                in refused.locator("#help-reason").inner_text()
            )
            refused.screenshot(path=str(SCREENSHOTS / "review-page-calibrating.png"))
            page.goto(f"{url(review)}/")  # the lead on the review page (same token, kept by the browser)
            page.locator("#workspace").wait_for(state="visible", timeout=30_000)
            assert page.locator("#admin-link").is_visible()
    finally:
        review.stop(20)


def test_the_recent_answers_page_back_and_an_overlap_vote_corrected_supersedes_its_consensus(
    settings_factory, chromium, tmp_path
):
    """The review service alone; every record an overlap record for two reviewers (no adjudication).

    ana has answered 60 records (her history's first page holds 50): she goes down the list past its end, the older
    answers load, and she gives the oldest, o00, another label. bo had answered o00 dog where ana said cat (a tie:
    the consensus took ana's cat, the first answer); her cat becoming dog makes the consensus dog, so the service
    publishes a retraction of the cat consensus and a dog one.
    """
    settings = settings_factory(
        **review_sections(overlap_share=1.0, overlap_k=2, adjudication=False, undo_seconds=0.0, correct_seconds=900.0)
    )
    review = start_review(settings, tmp_path / "logs")
    ana, bo = new_token(settings, "ana"), new_token(settings, "bo")
    ids = [f"o{i:02d}" for i in range(61)]
    try:
        publish_requests(settings, [request(record_id, priority=0.9 - i / 1000) for i, record_id in enumerate(ids)])
        with client(review, ana) as as_ana, client(review, bo) as as_bo:
            with client(review, new_token(settings, "lead", "admin")) as as_lead:  # exact counts (ana's read "60+")
                wait_enqueued(as_lead, len(ids))
            for record_id in ids[:60]:  # o60 stays for the page to show
                item = as_ana.post("/api/v1/claim").json()["item"]
                assert item["id"] == record_id and item["overlap"]
                as_ana.post(
                    "/api/v1/answer", json={"id": record_id, "lease": item["lease"], "label": "cat"}
                ).raise_for_status()
            item = as_bo.post("/api/v1/claim").json()["item"]
            assert item["id"] == "o00"
            as_bo.post("/api/v1/answer", json={"id": "o00", "lease": item["lease"], "label": "dog"}).raise_for_status()
            as_bo.post(
                "/api/v1/release", json={"id": "o01", "lease": as_bo.post("/api/v1/claim").json()["item"]["lease"]}
            )

            def consensus() -> list[dict]:
                return [c for c in corrections(settings) if c["id"] == "o00" and c["reviewer"] == "consensus"]

            first = wait_for(consensus, 30, "o00's consensus")
            assert [(c["kind"], c["label"]) for c in first] == [("consensus", "cat")]
            page_one = as_ana.get("/api/v1/recent").json()
            assert len(page_one["answers"]) == 50 and page_one["next_cursor"] == "o10"

        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/#token={ana}")
        page.locator("#workspace").wait_for(state="visible", timeout=30_000)
        assert page.locator("#record-title").inner_text() == "o60"
        page.keyboard.press("r")
        page.locator("#recent-list .recent-row").nth(49).wait_for()
        assert page.locator("#recent-list .recent-row").count() == 50
        assert page.locator("#recent-list .recent-more").inner_text() == "50 shown · older answers ↓"
        assert "overlap vote" in page.locator("#recent-list .recent-row .meta").first.inner_text()
        for _ in range(49):
            page.keyboard.press("ArrowDown")
        page.screenshot(path=str(SCREENSHOTS / "review-page-history-end-of-page.png"))
        assert page.locator("#recent-list .selected .id").inner_text() == "o10"  # the first page's last
        page.keyboard.press("ArrowDown")  # past the first page: the older answers load, the choice goes on to o09
        page.wait_for_function("() => document.querySelectorAll('#recent-list .recent-row').length === 60")
        page.wait_for_function("() => document.querySelector('#recent-list .selected .id').textContent === 'o09'")
        assert page.locator("#recent-list .recent-more").count() == 0  # the whole history is shown
        for _ in range(9):
            page.keyboard.press("ArrowDown")
        page.wait_for_function("() => document.querySelector('#recent-list .selected .id').textContent === 'o00'")
        page.keyboard.press("2")  # dog
        page.wait_for_function("() => document.getElementById('status').textContent.includes('corrected')")
        assert page.locator("#status").inner_text() == "o00: cat → dog · corrected · its consensus is recomputed"
        assert page.locator("#recent-list .selected .label").inner_text() == "cat → dog"
        assert page.locator("#recent-list .recent-row").count() == 60  # corrected in place: the older page stays
        assert page.locator("#record-title").inner_text() == "o60"  # the record on screen is still unanswered
        page.screenshot(path=str(SCREENSHOTS / "review-page-history-overlap-corrected.png"))

        superseded = wait_for(lambda: (c := consensus()) and len(c) == 3 and c, 30, "the superseding consensus")
        assert [(c["kind"], c["label"]) for c in superseded] == [
            ("consensus", "cat"),
            ("retraction", "cat"),
            ("consensus", "dog"),
        ]
        assert superseded[1]["supersedes"] == first[0]["answer_id"]
        assert superseded[2]["answers"] == {"ana": "dog", "bo": "dog"}
        votes = [(c["kind"], c["label"]) for c in corrections(settings) if c["id"] == "o00" and c["reviewer"] == "ana"]
        assert votes == [("overlap", "cat"), ("retraction", "cat"), ("overlap", "dog")]
    finally:
        review.stop(20)


def test_not_sure_sends_a_record_to_an_expert_whom_the_page_and_the_lead_view_show_it_to(
    settings_factory, chromium, tmp_path
):
    """The review service alone: ana is not sure of x1 (e, with a note); only eve, an expert, is served it."""
    settings = settings_factory(**review_sections(lease_seconds=120.0))
    review = start_review(settings, tmp_path / "logs")
    ana, bo, eve, lead = (
        new_token(settings, "ana"),
        new_token(settings, "bo"),
        new_token(settings, "eve", "expert"),
        new_token(settings, "lead", "admin"),
    )
    try:
        publish_requests(settings, [request("x1", 0.9), request("x2", 0.8), request("x3", 0.7)])
        with client(review, lead) as as_lead:
            wait_enqueued(as_lead, 3)
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/#token={ana}")
        page.locator("#workspace").wait_for(state="visible", timeout=30_000)
        assert page.locator("#record-title").inner_text() == "x1"
        assert page.locator("#unsure").inner_text() == "Not sure e"  # the hotkey is on the page
        page.keyboard.press("n")
        page.keyboard.type("two animals in one review")
        page.keyboard.press("Escape")
        page.keyboard.press("e")
        page.wait_for_function("() => document.getElementById('record-title').textContent === 'x2'")
        # no count of the experts' line: a gold item marked unsure would not join it (docs/review.md, Tells left)
        assert page.locator("#status").inner_text() == "x1 goes to an expert with your note"
        page.screenshot(path=str(SCREENSHOTS / "review-page-not-sure-sent.png"))
        with client(review, bo) as as_bo:  # a reviewer is not served it: x3 (x2 is ana's now)
            assert as_bo.post("/api/v1/claim").json()["item"]["id"] == "x3"
            stats = as_bo.get("/api/v1/stats").json()["queue"]
            assert "expert" not in stats and (stats["waiting"], stats["leased"]) == (0, 2)
        wait_for(lambda: 'labelstream_review_queue_items{state="expert"} 1.0' in review.metrics_text(), 10, "the gauge")

        lead_view = chromium.new_page(viewport={"width": 1366, "height": 768})
        lead_view.goto(f"{url(review)}/admin#token={lead}")
        lead_view.locator("#board").wait_for(state="visible", timeout=30_000)
        lead_view.wait_for_function("() => document.getElementById('q-expert').textContent === '1'")
        assert [c.strip() for c in lead_view.locator("#people tr[data-reviewer='ana'] td").all_inner_texts()][:3] == [
            "ana",
            "0",
            "0 · 1 not sure",
        ]
        lead_view.screenshot(path=str(SCREENSHOTS / "admin-page-not-sure.png"))

        expert = chromium.new_page(viewport={"width": 1366, "height": 768})
        expert.goto(f"{url(review)}/#token={eve}")
        expert.locator("#workspace").wait_for(state="visible", timeout=30_000)
        assert expert.locator("#record-title").inner_text() == "x1" and expert.locator("#expert").is_visible()
        assert expert.locator("#skip-notes").inner_text() == "ana was not sure: two animals in one review"
        expert.screenshot(path=str(SCREENSHOTS / "review-page-expert.png"))
        expert.keyboard.press("2")  # dog (then nothing is left for eve: x2 and x3 are held)
        answered = wait_for(lambda: [c for c in corrections(settings) if c["id"] == "x1"], 30, "the expert's answer")
        assert [(c["kind"], c["label"], c["reviewer"]) for c in answered] == [("answer", "dog", "eve")]
        with client(review, lead) as as_lead:
            assert as_lead.get("/api/v1/admin/overview").json()["queue"]["expert"] == 0
    finally:
        review.stop(20)


def test_not_sure_without_an_expert_is_refused_and_a_record_no_expert_takes_goes_back_to_the_others(
    settings_factory, chromium, tmp_path
):
    """No expert token: e is refused (the record stays); with one who never comes, x1 is back after
    review.expert_wait_seconds (1 s here), with the note and "no expert took it", for bo, not for ana."""
    settings = settings_factory(**review_sections(lease_seconds=120.0, expert_wait_seconds=1.0))
    review = start_review(settings, tmp_path / "logs")
    ana, bo, lead = new_token(settings, "ana"), new_token(settings, "bo"), new_token(settings, "lead", "admin")
    try:
        publish_requests(settings, [request("x1", 0.9), request("x2", 0.8)])
        with client(review, lead) as as_lead:
            wait_enqueued(as_lead, 2)
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/#token={ana}")
        page.locator("#workspace").wait_for(state="visible", timeout=30_000)
        page.keyboard.press("e")
        page.wait_for_function("() => document.getElementById('status').textContent.includes('expert role')")
        assert page.locator("#status").inner_text() == (
            "nobody else has the expert role, so no one would answer it: skip it (s) with a note instead, or ask an "
            "admin for one (labelstream review token add NAME --role expert)"
        )
        assert page.locator("#record-title").inner_text() == "x1"  # still ana's
        page.screenshot(path=str(SCREENSHOTS / "review-page-not-sure-no-expert.png"))

        new_token(settings, "eve", "expert")  # an expert who never opens the page
        page.keyboard.press("n")
        page.keyboard.type("two animals in one review")
        page.keyboard.press("Escape")
        page.keyboard.press("e")
        page.wait_for_function("() => document.getElementById('record-title').textContent === 'x2'")
        with client(review, lead) as as_lead:
            wait_for(
                lambda: as_lead.get("/api/v1/admin/overview").json()["queue"]["expert_timed_out"] == 1,
                20,
                "x1 back from the experts",
            )
            queue = as_lead.get("/api/v1/admin/overview").json()["queue"]
            assert (queue["expert"], queue["waiting"]) == (0, 1)
        wait_for(lambda: "labelstream_review_expert_timeouts_total 1.0" in review.metrics_text(), 10, "the counter")

        others = chromium.new_page(viewport={"width": 1366, "height": 768})
        others.goto(f"{url(review)}/#token={bo}")
        others.locator("#workspace").wait_for(state="visible", timeout=30_000)
        assert others.locator("#record-title").inner_text() == "x1" and others.locator("#no-expert").is_visible()
        assert others.locator("#expert").is_hidden()
        assert others.locator("#skip-notes").inner_text() == "ana was not sure: two animals in one review"
        others.screenshot(path=str(SCREENSHOTS / "review-page-no-expert-took-it.png"))

        lead_view = chromium.new_page(viewport={"width": 1366, "height": 768})
        lead_view.goto(f"{url(review)}/admin#token={lead}")
        lead_view.locator("#board").wait_for(state="visible", timeout=30_000)
        lead_view.wait_for_function("() => document.getElementById('q-expert_timed_out').textContent === '1'")
        assert lead_view.locator("#q-expert_timed_out-box").is_visible()
        lead_view.screenshot(path=str(SCREENSHOTS / "admin-page-no-expert-took.png"))
        # and the lead's command line says it too
        from typer.testing import CliRunner

        from labelstream.cli.main import app

        env = {
            "LABELSTREAM_REDIS__URL": settings.redis.url,
            "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix,
            "LABELSTREAM_REVIEW__EXPERT_WAIT_SECONDS": "1",
        }
        status = CliRunner().invoke(app, ["review", "status"], env=env, terminal_width=80)
        assert status.exit_code == 0, status.output
        assert (
            "1 went back to all reviewers: no expert took them within review.expert_wait_seconds (1 second)"
            in status.stdout
        ), status.stdout
    finally:
        review.stop(20)


def test_gold_items_look_like_records_on_the_page_and_the_lead_view_shows_each_reviewers_accuracy(
    settings_factory, chromium, tmp_path
):
    """The review service alone, every claim a gold item (review.gold_share 1): ana answers one on the page, the
    rest through the API; once final, the lead reads each reviewer's gold accuracy. The default counter, 12 records
    waiting: ana's page reads "10+", as in a deployment (gold comes only where the counter cannot show it)."""
    settings = settings_factory(
        **review_sections(
            lease_seconds=120.0, gold_share=1.0, undo_seconds=1.0, queue_counter_exact_below=10, queue_counter_step=10
        )
    )
    review = start_review(settings, tmp_path / "logs")
    ana, bo, lead = new_token(settings, "ana"), new_token(settings, "bo"), new_token(settings, "lead", "admin")
    gold = [
        {
            "id": f"gold{i}",
            "record": {"features": {"weight_kg": 4.2 + i, "legs": 4}, "text": TEXTS[i]},
            "label": label,
            "proposed_label": "cat",
            "probabilities": {"cat": 0.55, "dog": 0.45},
        }
        for i, label in enumerate(["cat", "dog", "bird"])
    ]
    truth = {g["id"]: g["label"] for g in gold}
    try:
        with client(review, lead) as as_lead, client(review, bo) as as_bo:
            assert as_lead.post("/api/v1/admin/gold", json={"items": gold}).json()["count"] == 3
            later = [request(f"later-{i:02d}", 0.1) for i in range(11)]  # behind real1, another shape of id
            publish_requests(settings, [request("real1", 0.9), *later])  # gold items come only in place of real ones
            wait_enqueued(as_lead, 12)
            page = chromium.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url(review)}/#token={ana}")
            page.locator("#workspace").wait_for(state="visible", timeout=30_000)
            page.wait_for_function("() => document.getElementById('queue-depth').textContent === '10+'")
            shown = page.locator("#record-title").inner_text()
            assert shown not in truth and re.fullmatch(r"real\d", shown) and shown != "real1"  # shaped like real1
            page.screenshot(path=str(SCREENSHOTS / "review-page-gold-item.png"))
            page.keyboard.press("1")  # cat
            page.wait_for_function(f"() => document.getElementById('record-title').textContent !== '{shown}'")
            for _ in range(3):  # bo answers dog to every gold item: right once (gold1)
                item = as_bo.post("/api/v1/claim").json()["item"]
                assert (
                    as_bo.post(
                        "/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "dog"}
                    ).status_code
                    == 200
                )
            wait_for(
                lambda: sum(r["answers"] for r in as_lead.get("/api/v1/admin/gold").json()["reviewers"].values()) == 4,
                30,
                "4 final gold answers",
            )
            stats = as_lead.get("/api/v1/admin/gold").json()

            lead_view = chromium.new_page(viewport={"width": 1366, "height": 900})
            lead_view.goto(f"{url(review)}/admin#token={lead}")
            lead_view.locator("#board").wait_for(state="visible", timeout=30_000)
            lead_view.locator("#gold tr[data-reviewer='bo']").wait_for(timeout=10_000)

            def cells(selector: str) -> list[str]:
                return [c.strip() for c in lead_view.locator(f"{selector} td").all_inner_texts()]

            assert lead_view.locator("#gold-count").inner_text() == "3"
            assert lead_view.locator("#gold-share").inner_text() == "100 %"
            bo_row = stats["reviewers"]["bo"]
            interval = f"{round(bo_row['low'] * 100)}–{round(bo_row['high'] * 100)} %"
            # all made final today: the last 7 days are all time; bo was served all three gold items (none left)
            assert cells("#gold tr[data-reviewer='bo']") == [
                "bo no gold left",
                "3",
                str(bo_row["right"]),
                f"{round(bo_row['accuracy'] * 100)} %",
                interval,
                f"{round(bo_row['accuracy'] * 100)} % of 3\n{interval}",
            ]
            assert lead_view.locator("#gold-recent-head").text_content() == "last 7 days"
            assert cells("#gold tr[data-reviewer='ana']")[:2] == ["ana", "1"]
            held = [h for h in as_lead.get("/api/v1/admin/overview").json()["held"] if h["reviewer"] == "ana"]
            assert len(held) == 1 and held[0]["gold"] in truth  # her page took the next one: a gold instance
            lead_view.locator(f"#held tr[data-id='{held[0]['id']}']").wait_for(timeout=10_000)
            assert (
                lead_view.locator(f"#held tr[data-id='{held[0]['id']}'] td")
                .first.inner_text()
                .endswith(f"gold item {held[0]['gold']} · shown as {held[0]['shown']}")
            )  # the lead is told; the reviewer's page is not
            assert cells("#people tr[data-reviewer='ana']")[-1] == f"gold item {held[0]['gold']}"
            lead_view.locator(".gold").scroll_into_view_if_needed()
            lead_view.screenshot(path=str(SCREENSHOTS / "admin-page-gold.png"), full_page=True)
            lead_view.set_viewport_size({"width": 640, "height": 900})  # about 80 columns of text
            lead_view.wait_for_timeout(200)
            assert lead_view.evaluate("document.documentElement.scrollWidth") <= 640
            lead_view.locator(".gold").screenshot(path=str(SCREENSHOTS / "admin-page-gold-narrow.png"))
            lead_view.set_viewport_size({"width": 400, "height": 900})
            lead_view.wait_for_timeout(200)
            assert lead_view.evaluate("document.documentElement.scrollWidth") <= 400
            lead_view.locator(".gold").screenshot(path=str(SCREENSHOTS / "admin-page-gold-phone.png"))
        published = wait_for(lambda: [c for c in corrections(settings) if c["kind"] == "gold"], 30, "gold corrections")
        assert len(published) == 4 and all(c["correct"] == (c["label"] == truth[c["id"]]) for c in published)
        assert sorted((c["reviewer"], c["label"]) for c in published) == [
            ("ana", "cat"),
            ("bo", "dog"),
            ("bo", "dog"),
            ("bo", "dog"),
        ]
        assert stats["reviewers"]["bo"]["right"] == 1
    finally:
        review.stop(20)


def test_a_reviewer_held_for_low_gold_accuracy_sees_why_and_the_lead_clears_the_hold_on_the_lead_view(
    settings_factory, chromium, tmp_path
):
    """review.gold_hold_below 0.8 with 3 answers enough: bo answers three gold items wrong (Wilson 0-56 %), so his
    page says why he gets nothing; the lead view marks him held, its Clear hold button lets him take records again.
    The default counter, 12 records waiting (his page reads "10+")."""
    settings = settings_factory(
        **review_sections(
            lease_seconds=120.0,
            gold_share=1.0,
            undo_seconds=0.0,
            gold_hold_below=0.8,
            gold_hold_min_answers=3,
            queue_counter_exact_below=10,
            queue_counter_step=10,
        )
    )
    review = start_review(settings, tmp_path / "logs")
    bo, lead = new_token(settings, "bo"), new_token(settings, "lead", "admin")
    gold = [
        {"id": f"gold{i}", "record": {"features": {"weight_kg": 4.2 + i, "legs": 4}, "text": TEXTS[i]}, "label": "cat"}
        for i in range(3)
    ]
    try:
        with client(review, lead) as as_lead, client(review, bo) as as_bo:
            assert as_lead.post("/api/v1/admin/gold", json={"items": gold}).json()["count"] == 3
            later = [request(f"later-{i:02d}", 0.1) for i in range(11)]  # behind real1, another shape of id
            publish_requests(settings, [request("real1", 0.9), *later])  # gold items come only in place of real ones
            wait_enqueued(as_lead, 12)
            for _ in gold:
                item = as_bo.post("/api/v1/claim").json()["item"]
                assert (
                    as_bo.post(
                        "/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "dog"}
                    ).status_code
                    == 200
                )
            wait_for(lambda: as_lead.get("/api/v1/admin/gold").json()["held"] == 1, 30, "bo held")

            page = chromium.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url(review)}/#token={bo}")
            page.locator("#held").wait_for(state="visible", timeout=30_000)
            assert (
                page.locator("#held-why")
                .inner_text()
                .startswith(
                    "Held from new items: your gold accuracy over the last 7 days is 0% of 3 (95 % interval 0%-56%)"
                )
            )
            assert page.locator("#workspace").is_hidden()
            page.wait_for_function("() => document.getElementById('queue-depth').textContent === '10+'")
            page.screenshot(path=str(SCREENSHOTS / "review-page-held.png"))
            page.set_viewport_size({"width": 400, "height": 800})
            page.wait_for_timeout(200)
            assert page.evaluate("document.documentElement.scrollWidth") <= 400
            page.screenshot(path=str(SCREENSHOTS / "review-page-held-phone.png"))

            lead_view = chromium.new_page(viewport={"width": 1366, "height": 900})
            lead_view.goto(f"{url(review)}/admin#token={lead}")
            lead_view.locator("#board").wait_for(state="visible", timeout=30_000)
            row = lead_view.locator("#gold tr[data-reviewer='bo']")
            row.locator(".held-badge").wait_for(timeout=10_000)
            assert row.locator(".held-badge").inner_text() == "held"
            lead_view.locator(".gold").scroll_into_view_if_needed()
            lead_view.locator(".gold").screenshot(path=str(SCREENSHOTS / "admin-page-gold-held.png"))
            row.locator("button.clear-hold").click()
            row.locator(".range", has_text="cleared until").wait_for(timeout=10_000)
            assert row.locator(".held-badge").count() == 0

            page.locator("#held-retry").click()  # bo takes records again: the real one (his gold items are used up)
            page.locator("#workspace").wait_for(state="visible", timeout=10_000)
            assert page.locator("#record-title").inner_text() == "real1"
    finally:
        review.stop(20)


def test_the_lead_view_warns_of_a_reviewer_served_every_gold_item_until_more_are_uploaded(
    settings_factory, chromium, tmp_path
):
    """Two gold items at share 1: ana is served both (and then answers the real record), bo one. The lead view's
    Gold items section marks ana "no gold left" and says to upload more; uploading two more clears both."""
    settings = settings_factory(**review_sections(lease_seconds=120.0, gold_share=1.0, undo_seconds=0.0))
    review = start_review(settings, tmp_path / "logs")
    tokens = {name: new_token(settings, name) for name in ("ana", "bo")}
    lead = new_token(settings, "lead", "admin")
    gold = [
        {"id": f"gold{i}", "record": {"features": {"weight_kg": 4.2 + i, "legs": 4}, "text": TEXTS[i]}, "label": "cat"}
        for i in range(4)
    ]
    try:
        with client(review, lead) as as_lead:
            assert as_lead.post("/api/v1/admin/gold", json={"items": gold[:2]}).json()["count"] == 2
            publish_requests(settings, [request("real1", 0.9), request("real2", 0.8)])  # gold only in place of real
            wait_enqueued(as_lead, 2)
            for name, claims in (("ana", 3), ("bo", 1)):
                with client(review, tokens[name]) as as_reviewer:
                    for _ in range(claims):
                        item = as_reviewer.post("/api/v1/claim").json()["item"]
                        answer = {"id": item["id"], "lease": item["lease"], "label": "cat"}
                        assert as_reviewer.post("/api/v1/answer", json=answer).status_code == 200
            wait_for(lambda: as_lead.get("/api/v1/admin/gold").json()["none_left"] == 1, 30, "ana out of gold items")

            lead_view = chromium.new_page(viewport={"width": 1366, "height": 900})
            lead_view.goto(f"{url(review)}/admin#token={lead}")
            lead_view.locator("#board").wait_for(state="visible", timeout=30_000)
            note = lead_view.locator("#gold-used-up")
            note.wait_for(state="visible", timeout=10_000)
            assert note.inner_text().startswith("None left: ana was served every gold item")
            assert "labelstream review gold add FILE" in note.inner_text()
            assert lead_view.locator("#gold tr[data-reviewer='ana'] .used-up-badge").inner_text() == "no gold left"
            assert lead_view.locator("#gold tr[data-reviewer='bo'] .used-up-badge").count() == 0
            lead_view.locator(".gold").scroll_into_view_if_needed()
            lead_view.locator(".gold").screenshot(path=str(SCREENSHOTS / "admin-page-gold-none-left.png"))

            assert as_lead.post("/api/v1/admin/gold", json={"items": gold[2:]}).json()["count"] == 4
            note.wait_for(state="hidden", timeout=15_000)
            assert lead_view.locator("#gold .used-up-badge").count() == 0
    finally:
        review.stop(20)


def test_the_lead_view_lists_a_gold_item_most_reviewers_answer_otherwise_to_check_its_label(
    settings_factory, chromium, tmp_path
):
    """Five reviewers answer two gold items through the API: gold0's known label (bird) gets 1 of 5 right, most say
    cat; the lead view's Gold items section lists it under "Gold items to check", and gold1 (all right) not."""
    settings = settings_factory(**review_sections(lease_seconds=120.0, gold_share=1.0, undo_seconds=0.0))
    review = start_review(settings, tmp_path / "logs")
    people = ["ana", "bo", "cy", "di", "ed"]
    tokens = {name: new_token(settings, name) for name in people}
    lead = new_token(settings, "lead", "admin")
    gold = [
        {
            "id": "gold0",
            "record": {"features": {"weight_kg": 4.2, "legs": 4}, "text": TEXTS[0]},
            "label": "bird",
            "proposed_label": "cat",
            "probabilities": {"cat": 0.7, "dog": 0.3},
        },
        {
            "id": "gold1",
            "record": {"features": {"weight_kg": 30.0, "legs": 4}, "text": TEXTS[1]},
            "label": "dog",
            "proposed_label": "dog",
            "probabilities": {"cat": 0.2, "dog": 0.8},
        },
    ]
    try:
        with client(review, lead) as as_lead:
            assert as_lead.post("/api/v1/admin/gold", json={"items": gold}).json()["count"] == 2
            publish_requests(settings, [request("real1", 0.9)])  # gold items come only in place of real ones
            wait_enqueued(as_lead, 1)
            for n, name in enumerate(people):
                with client(review, tokens[name]) as as_reviewer:
                    for _ in gold:  # ana answers gold0 right (bird), the others cat; gold1 everyone right
                        item = as_reviewer.post("/api/v1/claim").json()["item"]
                        label = "dog" if item["proposed_label"] == "dog" else ("bird" if n == 0 else "cat")
                        answer = {"id": item["id"], "lease": item["lease"], "label": label}
                        assert as_reviewer.post("/api/v1/answer", json=answer).status_code == 200

            def all_final() -> dict | None:
                stats = as_lead.get("/api/v1/admin/gold").json()
                return stats if sum(i["answers"] for i in stats["items"]) == 10 else None

            stats = wait_for(all_final, 30, "10 final gold answers")
            assert stats["to_check"] == 1 and stats["items"][0]["id"] == "gold0"

            lead_view = chromium.new_page(viewport={"width": 1366, "height": 900})
            lead_view.goto(f"{url(review)}/admin#token={lead}")
            lead_view.locator("#board").wait_for(state="visible", timeout=30_000)
            suspect = lead_view.locator("#gold-check li[data-gold='gold0']")
            suspect.wait_for(timeout=10_000)
            assert suspect.inner_text() == "gold0: known label bird, 1 of 5 answers right (20 %); most answered cat (4)"
            assert lead_view.locator("#gold-check li").count() == 1  # gold1, all right, is not listed
            assert "at least 5 answers, under 50 % right" in lead_view.locator("#gold-check-why").inner_text()
            lead_view.locator(".gold").scroll_into_view_if_needed()
            lead_view.locator(".gold").screenshot(path=str(SCREENSHOTS / "admin-page-gold-suspect.png"))
            lead_view.set_viewport_size({"width": 400, "height": 900})
            lead_view.wait_for_timeout(200)
            assert lead_view.evaluate("document.documentElement.scrollWidth") <= 400
            lead_view.locator(".gold").screenshot(path=str(SCREENSHOTS / "admin-page-gold-suspect-phone.png"))
    finally:
        review.stop(20)


def test_the_keys_list_has_the_keyboard_while_it_is_open_and_the_sign_in_page_shows_no_reviewer_controls(
    settings_factory, chromium, tmp_path
):
    """`?` opens the keys list over the record: a digit, `s` or `u` read there must not answer, skip or undo the record
    behind it (it did: `?` then `1` answered x1 unseen). Before signing in, no counters, no Recent or Sign out."""
    settings = settings_factory(**review_sections(lease_seconds=120.0))
    review = start_review(settings, tmp_path / "logs")
    ana = new_token(settings, "ana")
    try:
        publish_requests(settings, [request("x1", 0.9), request("x2", 0.8)])
        with client(review, ana) as as_ana:
            wait_enqueued(as_ana, 2)
            page = chromium.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url(review)}/")
            page.locator("#login").wait_for(state="visible", timeout=30_000)
            assert page.locator("#sign-out").is_hidden() and page.locator("#toggle-recent").is_hidden()
            assert page.locator(".counters").is_hidden()
            page.locator("#token-input").fill(ana)
            page.keyboard.press("Enter")
            page.locator("#workspace").wait_for(state="visible", timeout=30_000)
            assert page.locator("#sign-out").is_visible() and page.locator(".counters").is_visible()
            assert page.locator("#record-title").inner_text() == "x1"

            page.keyboard.press("?")
            assert page.locator("#help").is_visible()
            assert page.evaluate("document.activeElement.id") == "close-help"  # the dialog has the focus
            for key in ("1", "2", "s", "e", "u", "Tab"):
                page.keyboard.press(key)
            page.wait_for_timeout(500)
            assert page.locator("#help").is_visible() and page.locator("#record-title").inner_text() == "x1"
            assert as_ana.get("/api/v1/stats").json()["me"]["answered_today"] == 0
            page.set_viewport_size({"width": 400, "height": 800})
            page.screenshot(path=str(SCREENSHOTS / "review-page-keys-phone.png"))
            page.set_viewport_size({"width": 1366, "height": 768})
            page.keyboard.press("Escape")
            assert page.locator("#help").is_hidden()
            page.keyboard.press("1")  # closed: the keys answer again
            page.wait_for_function("() => document.getElementById('record-title').textContent === 'x2'")
            assert as_ana.get("/api/v1/stats").json()["me"]["answered_today"] == 1
    finally:
        review.stop(20)


def test_the_page_says_the_service_is_away_until_it_answers_again_and_a_long_warning_fits_a_phone(
    settings_factory, chromium, tmp_path
):
    """The review service stops while ana holds x1: her key is not saved, the page says so until the service is back
    (it said "retrying" for 2.6 s, retried nothing, and left the label lit as if chosen), then asks her to press it
    again. A three-line refusal stays on screen long enough to read and fits a 400 px window (it was a pill half the
    window wide, its text cut by the round ends)."""
    settings = settings_factory(**review_sections(lease_seconds=120.0))
    review = start_review(settings, tmp_path / "logs")
    ana = new_token(settings, "ana")
    status = "document.getElementById('status')"
    try:
        publish_requests(settings, [request("x1", 0.9), request("x2", 0.8)])
        with client(review, ana) as as_ana:
            wait_enqueued(as_ana, 2)
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/#token={ana}")
        page.locator("#workspace").wait_for(state="visible", timeout=30_000)
        assert page.locator("#record-title").inner_text() == "x1"

        review.stop(20)
        page.keyboard.press("1")
        page.wait_for_function(f"() => {status}.textContent.includes('does not answer')")
        assert page.locator("#status").inner_text() == (
            "the review service does not answer: nothing is saved until it does · your record stays here · "
            "checking every few seconds"
        )
        assert page.locator(".label-button.flash").count() == 0  # not saved: no label looks chosen
        page.wait_for_timeout(5000)
        assert "show" in page.locator("#status").get_attribute("class")  # still said, 5 s on
        assert page.locator("#record-title").inner_text() == "x1"
        page.screenshot(path=str(SCREENSHOTS / "review-page-service-away.png"))

        review.start().wait_until_serving(90)
        page.wait_for_function(f"() => {status}.textContent.includes('answers again')", timeout=30_000)
        assert page.locator("#status").inner_text() == (
            "the review service answers again · your last key was not saved: press it again"
        )
        page.keyboard.press("1")
        page.wait_for_function("() => document.getElementById('record-title').textContent === 'x2'")
        with client(review, ana) as as_ana:
            assert as_ana.get("/api/v1/stats").json()["me"]["answered_today"] == 1

        page.set_viewport_size({"width": 400, "height": 800})
        page.keyboard.press("e")  # nobody has the expert role: a refusal of three lines
        page.wait_for_function(f"() => {status}.textContent.includes('expert role')")
        page.wait_for_timeout(3500)
        box = page.locator("#status").bounding_box()
        assert "show" in page.locator("#status").get_attribute("class")  # 3.5 s on: still there to read
        assert box["x"] >= 0 and box["x"] + box["width"] <= 400 and box["width"] >= 340, box
        page.screenshot(path=str(SCREENSHOTS / "review-page-refusal-phone.png"))
    finally:
        review.stop(20)


def test_a_record_no_longer_held_is_said_in_a_reviewers_words(settings_factory, chromium, tmp_path):
    """ana's page loses the service for longer than the lease (5 s): the counter said "held for you 0 s", the key she
    pressed again once it was back was refused ("the lease is not yours or has ended"). Now the counter says the
    record is no longer hers, the page claims afresh once the service answers, and her key counts. A record the lead
    takes back is said in the same words."""
    settings = settings_factory(**review_sections(lease_seconds=5.0))
    review = start_review(settings, tmp_path / "logs")
    ana, lead = new_token(settings, "ana"), new_token(settings, "lead", "admin")
    status = "document.getElementById('status')"
    try:
        publish_requests(settings, [request("x1", 0.9), request("x2", 0.8), request("x3", 0.7)])
        with client(review, ana) as as_ana:
            wait_enqueued(as_ana, 3)
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/#token={ana}")
        page.locator("#workspace").wait_for(state="visible", timeout=30_000)
        assert page.locator("#record-title").inner_text() == "x1"
        page.route("**/api/v1/**", lambda route: route.abort())  # the network goes
        page.wait_for_function(
            "() => document.getElementById('lease').textContent === 'no longer held for you'", timeout=20_000
        )
        page.keyboard.press("2")  # not saved
        page.wait_for_timeout(1500)  # the leader puts x1 back in the queue
        page.unroute("**/api/v1/**")
        page.wait_for_function(f"() => {status}.textContent.includes('answers again')", timeout=20_000)
        assert page.locator("#status").inner_text() == (
            "the review service answers again · your last key was not saved: press it again"
        )
        assert page.locator("#record-title").inner_text() == "x1"
        assert page.locator("#lease").inner_text().startswith("held for you")  # claimed afresh
        page.keyboard.press("2")  # now it counts
        page.wait_for_function("() => document.getElementById('record-title').textContent === 'x2'")

        with client(review, lead) as as_lead:  # the lead takes x2 back; it is the best record, so ana's again
            assert as_lead.post("/api/v1/admin/requeue", json={"ids": ["x2"]}).json()["requeued"] == 1
        page.wait_for_function(f"() => {status}.textContent.includes('no longer held')", timeout=20_000)
        assert page.locator("#status").inner_text() == (
            "x2 was no longer held for you · it is yours again: answer it again"
        )
        assert page.locator("#record-title").inner_text() == "x2"
        page.screenshot(path=str(SCREENSHOTS / "review-page-hold-ended.png"))
    finally:
        review.stop(20)


def test_the_lead_view_greys_its_figures_and_says_so_while_the_service_does_not_answer(
    settings_factory, chromium, tmp_path
):
    """The lead view kept showing its last figures as if live, the only sign a "not updated" in the footer below the
    fold; now they are greyed and the status line says since when, until a refresh goes through again."""
    settings = settings_factory(**review_sections(lease_seconds=120.0))
    review = start_review(settings, tmp_path / "logs")
    lead = new_token(settings, "lead", "admin")
    try:
        publish_requests(settings, [request("x1", 0.9)])
        with client(review, lead) as as_lead:
            wait_enqueued(as_lead, 1)
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/admin#token={lead}")
        page.locator("#board").wait_for(state="visible", timeout=30_000)
        page.wait_for_function("() => document.getElementById('q-waiting').textContent === '1'")
        page.route("**/api/v1/**", lambda route: route.abort())
        page.wait_for_function("() => document.getElementById('board').classList.contains('stale')", timeout=15_000)
        status = page.locator("#status")
        assert "not updated since: the review service does not answer" in status.inner_text()
        page.wait_for_timeout(5000)
        assert "show" in status.get_attribute("class")  # said for as long as it lasts
        page.screenshot(path=str(SCREENSHOTS / "admin-page-service-away.png"))
        page.unroute("**/api/v1/**")
        page.wait_for_function("() => !document.getElementById('board').classList.contains('stale')", timeout=15_000)
        assert status.inner_text() == "updated again"
    finally:
        review.stop(20)


def test_the_lead_view_says_why_agreement_is_not_measured_yet_and_an_admins_top_bar_fits_a_phone(
    settings_factory, chromium, tmp_path
):
    """Two overlap records answered alike by ana and bo: kappa and alpha are not defined yet (too few records, one
    label), and the lead view said "No overlap records answered yet" beside their agreement of 100 %. On a 400 px
    phone an admin's top bar (one link more: Lead view) ran 11 px past the window, "Sign out" cut."""
    settings = settings_factory(
        **review_sections(overlap_share=1.0, overlap_k=2, adjudication=False, undo_seconds=0.0, lease_seconds=120.0)
    )
    review = start_review(settings, tmp_path / "logs")
    ana, bo, lead = new_token(settings, "ana"), new_token(settings, "bo"), new_token(settings, "lead", "admin")
    try:
        publish_requests(settings, [request("o1", 0.9), request("o2", 0.8)])
        with client(review, ana) as as_ana, client(review, bo) as as_bo, client(review, lead) as as_lead:
            wait_enqueued(as_lead, 2)
            for who in (as_ana, as_bo):
                for _ in range(2):
                    item = who.post("/api/v1/claim").json()["item"]
                    assert (
                        who.post(
                            "/api/v1/answer", json={"id": item["id"], "lease": item["lease"], "label": "cat"}
                        ).status_code
                        == 200
                    )
            agreement = wait_for(
                lambda: (a := as_lead.get("/api/v1/admin/overview").json()["agreement"])["consensus_agreement"] and a,
                30,
                "the two consensus",
            )
            assert (agreement["kappa"], agreement["alpha"]) == (None, None)
        page = chromium.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url(review)}/admin#token={lead}")
        page.locator("#board").wait_for(state="visible", timeout=30_000)
        assert page.locator("#agreement-note").inner_text() == (
            "Not measurable yet: kappa needs two reviewers with 10 overlap records in common, and kappa and alpha "
            "both need more than one label among the answers."
        )
        assert [c.strip() for c in page.locator("#people tr[data-reviewer='ana'] td").all_inner_texts()][4] == "100 %"
        page.locator(".agreement").screenshot(path=str(SCREENSHOTS / "admin-page-agreement-not-yet.png"))
        page.set_viewport_size({"width": 400, "height": 800})
        page.goto(f"{url(review)}/")  # the lead on the review page: nothing left for them, the top bar is what counts
        page.locator("#admin-link").wait_for(state="visible", timeout=30_000)
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        assert page.locator("#sign-out").bounding_box()["x"] + page.locator("#sign-out").bounding_box()["width"] <= 400
        page.screenshot(path=str(SCREENSHOTS / "review-page-admin-phone.png"))
    finally:
        review.stop(20)
