"""The terminal reviewer's screens: what the record panel says about where the record came from."""

from __future__ import annotations

import pytest
from rich.console import Console

from labelstream.review_client.client import ReviewItem
from labelstream.review_client.view import Screen, render


def _screen(**flags: bool) -> str:
    item = ReviewItem.from_json({"id": "r-1", "lease": "L", "lease_expires_at": 0.0, "lease_seconds": 60, "record": {"id": "r-1"},
                                 "proposed_label": "cat", "probabilities": {"cat": 0.6, "dog": 0.4}, "reason": "uncertain",
                                 "priority": 0.5, "labels": ["cat", "dog"], "overlap": False, **flags})
    console = Console(width=80, height=24, force_terminal=False, color_system=None)
    with console.capture() as screen:
        console.print(render(Screen("ana", item=item), console.size))
    return screen.get()


@pytest.mark.parametrize(("flags", "badge"), [
    ({"expert": True}, "uncertain · priority 0.5 · for an expert"),
    ({"no_expert": True}, "uncertain · priority 0.5 · no expert took it"),
])
def test_the_panel_says_an_expert_item_as_the_page_does(flags: dict[str, bool], badge: str):
    assert badge in _screen(**flags)


def test_an_ordinary_item_has_no_expert_badge():
    screen = _screen()
    assert "uncertain · priority 0.5" in screen and "expert" not in screen
