"""The terminal reviewer's screen text (pure: no service)."""

from __future__ import annotations

from labelstream.review_client.view import HOTKEYS, _skip_note


def test_the_key_line_fits_80_columns_and_names_the_keys_of_a_reviewers_day():
    assert len(" " + HOTKEYS) <= 80
    for key in ("1-9 label", "s skip", "e not sure", "u undo", "r recent", "? keys", "q quit"):
        assert key in HOTKEYS


def test_a_skip_note_says_who_and_why_and_a_bare_not_sure_is_not_repeated():
    assert _skip_note({"reviewer": "bo", "note": "two animals"}) == "bo skipped: two animals"
    assert _skip_note({"reviewer": "ana", "note": "two animals", "unsure": True}) == "ana was not sure: two animals"
    assert _skip_note({"reviewer": "ana", "note": "not sure", "unsure": True}) == "ana was not sure"  # the queue's default note
