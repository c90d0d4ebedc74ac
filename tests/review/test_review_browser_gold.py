"""A gold item and a real record on the review page, in headless Chromium: drawn the same way (review/gold.py, "Looks").

The review service runs as a process on the real broker and Redis; one real request waits on the review topic,
requested ten minutes ago with a source; every claim is offered a gold item (``review.gold_share`` 1), so ana's
page shows the gold item first, in the real record's place, and the real record after her answer. The gold item is
shown under an id shaped like the real one's ("web0" and a digit beside "web07"), never its key; her recent answers
list it under that id. Screenshots go to ``reports/review/``.
"""

from __future__ import annotations

import re
import time

import pytest
from review_support import client, new_token, publish_requests, review_sections, start_review, url, wait_enqueued

from labelstream.core.schemas import ReviewRequest
from stack_support import REPO

pytestmark = pytest.mark.integration

SCREENSHOTS = REPO / "reports" / "review"
WAITED = 600.0
"""How long the real record has waited: the page reads "requested 10 min ago" for both."""

LOOK = """() => {
  const shown = (id) => !document.getElementById(id).hidden;
  return {
    meta: document.getElementById('record-meta').textContent,
    text: shown('record-text'),
    features: [...document.querySelectorAll('#features tr td:first-child')].map((td) => td.textContent),
    reason: document.getElementById('reason').textContent,
    proposed: document.getElementById('proposed').textContent !== 'no proposal yet',
    probabilities: document.querySelectorAll('#probabilities li').length,
    badges: [...document.querySelectorAll('.badges .badge')].filter((b) => !b.hidden).map((b) => b.id || 'reason'),
    notes: shown('skip-notes'),
  };
}"""
"""What the page draws for a record, its content and id apart."""


# the gold item both tests serve: a cat, proposed as one
GOLD_CAT = {
    "id": "gold0",
    "label": "cat",
    "proposed_label": "cat",
    "probabilities": {"cat": 0.6, "dog": 0.4},
    "record": {"features": {"weight_kg": 4.2, "legs": 4}, "text": "Sleeps in the box more than on the bed."},
}


def test_a_gold_item_is_drawn_as_the_real_record_it_replaces(settings_factory, chromium, tmp_path):
    settings = settings_factory(
        **review_sections(
            lease_seconds=120.0, gold_share=1.0, undo_seconds=1.0, queue_counter_exact_below=10, queue_counter_step=10
        )
    )
    review = start_review(settings, tmp_path / "logs")
    ana, lead = new_token(settings, "ana"), new_token(settings, "lead", "admin")
    gold = dict(GOLD_CAT)
    real = ReviewRequest.model_validate(
        {
            "id": "web07",
            "proposed_label": "dog",
            "probabilities": {"cat": 0.45, "dog": 0.55},
            "reason": "uncertain",
            "priority": 0.9,
            "timestamp": time.time() - WAITED,
            "record": {
                "id": "web07",
                "features": {"weight_kg": 31.0, "legs": 4},
                "source": "pet-shop-reviews",
                "text": "The bark is loud enough to wake the neighbours. Returned.",
            },
        }
    )
    try:
        with client(review, lead) as as_lead:
            assert as_lead.post("/api/v1/admin/gold", json={"items": [gold]}).json()["count"] == 1
            # 11 records of lower priority behind web07: 12 waiting, "10+", where gold may come (the default counter)
            later = [
                real.model_copy(
                    update={
                        "id": f"web{i}",
                        "priority": 0.1,
                        "record": real.record.model_copy(update={"id": f"web{i}"}),
                    }
                )
                for i in range(10, 21)
            ]
            publish_requests(settings, [real, *later])
            wait_enqueued(as_lead, 12)
            page = chromium.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url(review)}/#token={ana}")
            page.locator("#workspace").wait_for(state="visible", timeout=30_000)
            page.wait_for_function("() => document.getElementById('queue-depth').textContent === '10+'")
            gold_title = page.locator("#record-title").inner_text()
            assert (
                re.fullmatch(r"web0\d", gold_title) and gold_title != "web07"
            )  # the gold item first, in web07's place
            gold_look = page.evaluate(LOOK)
            page.screenshot(path=str(SCREENSHOTS / "review-page-gold-look.png"))
            page.keyboard.press("1")  # cat
            page.wait_for_function("() => document.getElementById('record-title').textContent === 'web07'")
            real_look = page.evaluate(LOOK)
            page.screenshot(path=str(SCREENSHOTS / "review-page-real-look.png"))
            page.keyboard.press("r")  # her recent answers: the gold item under the id she was shown
            page.locator("#recent-list .recent-row").first.wait_for(state="visible", timeout=10_000)
            recent = page.locator("#recent-list").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "review-page-gold-recent.png"))
        assert gold_look["meta"] == "requested 10 min ago · source pet-shop-reviews"
        assert gold_look == real_look
        assert gold_title in recent and not re.search(r"[0-9a-f]{24}", recent)
    finally:
        review.stop(20)


def test_the_page_shows_the_queue_rounded_and_the_same_after_a_gold_claim_as_after_a_real_one(
    settings_factory, chromium, tmp_path
):
    """13 records wait, one gold item, every claim offered it (share 1; the default counter, exact below 10, tens
    above): ana's page reads "10+" before her first claim (the gold item), and after her second (a real record); an
    exact counter read 13, then 13 again after the gold claim, then 12. Screenshot
    ``reports/review/review-page-counter-rounded.png``."""
    settings = settings_factory(
        **review_sections(
            lease_seconds=120.0, gold_share=1.0, undo_seconds=0.0, queue_counter_exact_below=10, queue_counter_step=10
        )
    )
    review = start_review(settings, tmp_path / "logs")
    ana, lead = new_token(settings, "ana"), new_token(settings, "lead", "admin")
    gold = dict(GOLD_CAT)
    reals = [
        ReviewRequest.model_validate(
            {
                "id": f"web{i:02d}",
                "proposed_label": "dog",
                "probabilities": {"cat": 0.45, "dog": 0.55},
                "reason": "uncertain",
                "priority": 0.9,
                "timestamp": time.time() - WAITED + i,
                "record": {
                    "id": f"web{i:02d}",
                    "features": {"weight_kg": 20.0 + i, "legs": 4},
                    "source": "pet-shop-reviews",
                    "text": "The bark is loud enough to wake the neighbours.",
                },
            }
        )
        for i in range(13)
    ]
    try:
        with client(review, lead) as as_lead:
            assert as_lead.post("/api/v1/admin/gold", json={"items": [gold]}).json()["count"] == 1
            publish_requests(settings, reals)
            wait_enqueued(as_lead, 13)
            page = chromium.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url(review)}/#token={ana}")
            page.locator("#workspace").wait_for(state="visible", timeout=30_000)
            page.wait_for_function("() => document.getElementById('queue-depth').textContent !== '–'")
            first = (page.locator("#record-title").inner_text(), page.locator("#queue-depth").inner_text())
            page.keyboard.press("1")  # cat: the next record is the real web00
            page.wait_for_function("() => document.getElementById('record-title').textContent === 'web00'")
            page.wait_for_function("() => document.getElementById('count-today').textContent === '1'")
            page.wait_for_timeout(500)  # the stats asked after the second claim
            second = page.locator("#queue-depth").inner_text()
            title = page.locator("#queue-depth").locator("xpath=..").get_attribute("title")
            page.screenshot(path=str(SCREENSHOTS / "review-page-counter-rounded.png"))
            exact = as_lead.get("/api/v1/admin/overview").json()["queue"]["waiting"]
        assert re.fullmatch(r"web\d\d", first[0]) and first[0] != "web00"  # the gold item first, shaped like web00
        assert (first[1], second, exact) == ("10+", "10+", 12)
        assert title is not None and "at least 40" in title
    finally:
        review.stop(20)
