"""The terminal reviewer for real: ``labelstream review`` in a pseudo-terminal of 80x24, against the review service.

Keys go in as a person types them (pexpect); what the person sees is the
terminal's screen as a VT100 emulator renders it (pyte); what counts is on the
``corrections`` topic.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from client_support import (
    LABELSTREAM,
    Terminal,
    cli_env,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_stack,
    url,
    wait_enqueued,
    wait_for,
)

pytestmark = pytest.mark.integration

LEASE_SECONDS = 9.0  # short, so that holding a record longer than a lease proves the heartbeats


def shows(record_id: str):  # noqa: ANN201
    """The screen of ``record_id`` is drawn (the panel's top border carries the id; the keys line comes last)."""
    return lambda text: re.search(rf"^╭─ {re.escape(record_id)} ─", text, re.MULTILINE) is not None and "q quit" in text


def test_a_reviewer_works_the_queue_with_the_keys_in_an_80_column_terminal(redis_up, tmp_path):
    settings, review = review_stack(redis_up, tmp_path, lease_seconds=LEASE_SECONDS, undo_seconds=60.0)
    try:
        publish_requests(settings, [
            request(f"t{i}", priority=1 - i / 10, text="A long review text about a cat. " * 12 if i == 1 else None)
            for i in range(6)
        ])
        token = new_token(settings, "ana")
        with client(review, token) as api:
            wait_enqueued(api, 6)
        term = Terminal([LABELSTREAM, "review", "--url", url(review)], cli_env(settings, LABELSTREAM_REVIEW_TOKEN=token))
        screen = term.wait_for(shows("t0"), 60, "the first record")
        lines = [line for line in term.lines() if line]
        assert lines[0].startswith(" labelstream review · ana") and "waiting" in lines[0]
        assert "1 cat   2 dog   3 bird" in screen
        assert lines[-1].startswith(" 1-9 label · s skip · e not sure · u undo · r recent")
        panel = [line for line in lines if line.startswith(("╭", "│", "╰"))]
        assert panel and all(len(line) == 80 and line[-1] in "╮│╯" for line in panel), "\n".join(panel)

        # hold t0 for longer than a lease: the heartbeats keep it, the answer is accepted
        time.sleep(LEASE_SECONDS * 1.5)
        term.send("1")
        screen = term.wait_for(shows("t1"), 30, "t1 after answering t0")
        assert "✓ t0: cat" in screen
        assert "A long review text about a cat." in screen and "(v: all of it)" in screen, screen  # cut to fit 24 rows
        term.send("2")
        term.wait_for(shows("t2"), 30, "t2 after answering t1")
        term.send("s")
        screen = term.wait_for(shows("t3"), 30, "t3 after skipping t2")
        assert "skipped t2" in screen
        term.send("/")
        term.wait_for(lambda text: " label:" in text, 10, "the label prompt")
        term.send("bi\r")
        screen = term.wait_for(shows("t4"), 30, "t4 after answering t3 by name")
        assert "✓ t3: bird" in screen
        term.send("u")
        screen = term.wait_for(shows("t3"), 30, "t3 back after the undo")
        assert "withdrawn" in screen
        term.send("1")
        screen = term.wait_for(shows("t4"), 30, "t4 after answering t3 again")
        assert "✓ t3: cat" in screen
        term.send("?")
        term.wait_for(lambda text: "undo your last answer" in text, 10, "the keys")
        term.send(" ")
        term.wait_for(shows("t4"), 10, "t4 after closing the keys")
        term.send("q")
        assert term.close() == 0
        output = "".join(term.transcript)
        assert "ana: 3 answered, 1 skipped, 1 undone" in output  # t0, t1, t3 stand; the first t3 was undone
    finally:
        review.stop(20)

    def published() -> list[dict]:
        found = [c for c in corrections(settings) if c["kind"] in ("answer", "retraction")]
        return found if len(found) >= 5 else []

    found = wait_for(published, 60, "four answers and a retraction on corrections")
    assert {c["reviewer"] for c in found} == {"ana"}  # from the token
    answers = sorted((c["id"], c["label"], c["kind"]) for c in found)
    assert answers == [("t0", "cat", "answer"), ("t1", "dog", "answer"), ("t3", "bird", "answer"),
                       ("t3", "bird", "retraction"), ("t3", "cat", "answer")]
    retraction = next(c for c in found if c["kind"] == "retraction")
    first_t3 = next(c for c in found if c["id"] == "t3" and c["label"] == "bird" and c["kind"] == "answer")
    assert retraction["supersedes"] == first_t3["answer_id"]


def test_a_refused_token_is_one_error_line_and_keys_can_be_piped(redis_up, tmp_path):
    settings, review = review_stack(redis_up, tmp_path)
    try:
        refused = subprocess.run([LABELSTREAM, "review", "--url", url(review), "--token", "lsr_not-a-token"],
                                 env=cli_env(settings), capture_output=True, text=True, timeout=120, input="q")
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines() == [
            "error: the review service at " + url(review) + " refused the token (unknown or revoked token); "
            "an admin creates one: labelstream review token add NAME"
        ]
        publish_requests(settings, [request(f"p{i}", priority=1 - i / 10) for i in range(3)])
        token = new_token(settings, "ben")
        with client(review, token) as api:
            wait_enqueued(api, 3)
        no_expert = subprocess.run([LABELSTREAM, "review", "--url", url(review)], input="eq", timeout=120,
                                   env=cli_env(settings, LABELSTREAM_REVIEW_TOKEN=token), capture_output=True, text=True)
        assert "nobody else has the expert role" in no_expert.stdout and "0 skipped" in no_expert.stderr  # p0 stays
        new_token(settings, "eve", "expert")
        piped = subprocess.run([LABELSTREAM, "review", "--url", url(review)], input="3/do\nr2\n1\neq",
                               env=cli_env(settings, LABELSTREAM_REVIEW_TOKEN=token), capture_output=True, text=True,
                               timeout=120)
        assert piped.returncode == 0, piped.stderr
        assert "✓ p0: bird" in piped.stdout and "✓ p1: dog" in piped.stdout
        assert "✎ p0: bird → cat (corrected)" in piped.stdout  # r, the second newest answer, label 1
        p0 = wait_for(lambda: (found := [(c["kind"], c["label"]) for c in corrections(settings) if c["id"] == "p0"])
                      and len(found) >= 3 and found, 30, "p0's answer, retraction and corrected answer")
        assert p0 == [("answer", "bird"), ("retraction", "bird"), ("answer", "cat")]
        assert "\x1b" not in piped.stdout  # plain text on a pipe
        assert "p2 goes to an expert" in piped.stdout  # e: not sure
        assert "waiting for one" not in piped.stdout  # no count of the experts' line (docs/review.md, Tells left)
        assert "ben: 2 answered, 1 skipped, 0 undone" in piped.stderr  # the record sent to an expert counts as skipped
        with client(review, token) as api, client(review, new_token(settings, "lead", "admin")) as lead:
            assert lead.get("/api/v1/admin/overview").json()["queue"]["expert"] == 1  # the experts' line: the lead's
            assert "expert" not in api.get("/api/v1/stats").json()["queue"] and api.post("/api/v1/claim").status_code == 204
    finally:
        review.stop(20)
