"""Review reasons in a reviewer's words: every reason the policy can send has them, and the terminal shows them."""

from __future__ import annotations

from typing import get_args

from rich.console import Console

from labelstream.core.schemas import ReviewReason
from labelstream.review.reasons import REASONS, describe
from labelstream.review_client.client import ReviewItem
from labelstream.review_client.view import Screen, render, render_help


def test_every_review_reason_has_a_title_and_an_explanation():
    assert set(REASONS) == set(get_args(ReviewReason))
    for reason, (title, explained) in REASONS.items():
        assert title and explained.endswith("."), reason
    assert describe("cold_start")[0] == "calibrating" and "No threshold is proven yet for this class" in describe("cold_start")[1]
    assert describe("audit")[0] == "spot check"


def test_the_terminal_reads_calibrating_and_its_help_says_why():
    item = ReviewItem.from_json({"id": "r-1", "lease": "L", "lease_expires_at": 0.0, "lease_seconds": 60, "record": {"id": "r-1"},
                                 "proposed_label": "cat", "probabilities": {"cat": 0.9, "dog": 0.1}, "reason": "cold_start",
                                 "priority": 1.0, "labels": ["cat", "dog"], "overlap": False, "model_version": 3})
    console = Console(width=80, height=24, force_terminal=False, color_system=None)
    with console.capture() as screen:
        console.print(render(Screen("ana", item=item), console.size))
    assert "calibrating · priority 1" in screen.get() and "cold start" not in screen.get()
    with console.capture() as help_text:
        console.print(render_help(item.reason))
    assert "Why this record is here: calibrating — No threshold is proven yet for this class" in " ".join(help_text.get().split())
