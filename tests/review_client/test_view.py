"""The terminal reviewer's screens: what the record panel says about where the record came from."""

from __future__ import annotations

import pytest
from rich.console import Console

from labelstream.review_client.client import ReviewItem
from labelstream.review_client.view import HOTKEYS, Screen, _skip_note, render


def _screen(**flags: bool) -> str:
    item = ReviewItem.from_json(
        {
            "id": "r-1",
            "lease": "L",
            "lease_expires_at": 0.0,
            "lease_seconds": 60,
            "record": {"id": "r-1"},
            "proposed_label": "cat",
            "probabilities": {"cat": 0.6, "dog": 0.4},
            "reason": "uncertain",
            "priority": 0.5,
            "labels": ["cat", "dog"],
            "overlap": False,
            **flags,
        }
    )
    console = Console(width=80, height=24, force_terminal=False, color_system=None)
    with console.capture() as screen:
        console.print(render(Screen("ana", item=item), console.size))
    return screen.get()


@pytest.mark.parametrize(
    ("flags", "badge"),
    [
        ({"expert": True}, "uncertain · priority 0.5 · for an expert"),
        ({"no_expert": True}, "uncertain · priority 0.5 · no expert took it"),
    ],
)
def test_the_panel_says_an_expert_item_as_the_page_does(flags: dict[str, bool], badge: str):
    assert badge in _screen(**flags)


def test_an_ordinary_item_has_no_expert_badge():
    screen = _screen()
    assert "uncertain · priority 0.5" in screen and "expert" not in screen


def test_the_key_line_fits_80_columns_and_names_the_keys_of_a_reviewers_day():
    assert len(" " + HOTKEYS) <= 80
    for key in ("1-9 label", "s skip", "e not sure", "u undo", "r recent", "? keys", "q quit"):
        assert key in HOTKEYS


def test_a_skip_note_says_who_and_why_and_a_bare_not_sure_is_not_repeated():
    assert _skip_note({"reviewer": "bo", "note": "two animals"}) == "bo skipped: two animals"
    assert _skip_note({"reviewer": "ana", "note": "two animals", "unsure": True}) == "ana was not sure: two animals"
    assert (
        _skip_note({"reviewer": "ana", "note": "not sure", "unsure": True}) == "ana was not sure"
    )  # the queue's default note
    screen = _screen(skip_notes=[{"reviewer": "ana", "note": "not sure", "unsure": True}])
    assert "ana was not sure" in screen and "not sure: not sure" not in screen


def test_the_header_reads_the_queue_as_the_page_does_rounded_with_a_plus():
    """GET /api/v1/stats rounds the waiting count for reviewers (review/queue_counter.py): "10+", as on the page."""

    def header(queue: dict) -> str:
        console = Console(width=80, height=24, force_terminal=False, color_system=None)
        with console.capture() as screen:
            console.print(render(Screen("ana", stats={"me": {"answered_today": 3}, "queue": queue}), console.size))
        return screen.get().splitlines()[0]

    assert header({"waiting": 10, "waiting_rounded": True}).endswith("3 today · 10+ waiting")
    assert header({"waiting": 7, "waiting_rounded": False}).endswith("3 today · 7 waiting")
    assert header({"waiting": 7}).endswith("3 today · 7 waiting")  # an older service: no waiting_rounded
