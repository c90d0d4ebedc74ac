"""ReviewClient against the real review service: every call, every refusal as its exception, and retries that are safe.

A lost response is made real by a transport that delivers the request to the
service and then drops the response (a read timeout as the client sees it):
the client must repeat an answer (the service keeps the first: one correction)
and must not repeat an undo (a second undo would withdraw one more answer).
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import pytest
from client_support import (
    LABELS,
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

from labelstream.processes import free_port
from labelstream.review_client.client import (
    LeaseLost,
    Rejected,
    ReviewClient,
    Unauthorized,
    Unavailable,
)

pytestmark = pytest.mark.integration

ITEMS = 8


class LosingTransport(httpx.HTTPTransport):
    """Delivers every request; drops the response of the first request to each path in ``lose``."""

    def __init__(self, lose: set[str]) -> None:
        super().__init__()
        self.lose = set(lose)
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.sent.append(request.url.path)
        if request.url.path in self.lose:
            self.lose.discard(request.url.path)
            response.read()
            response.close()
            raise httpx.ReadTimeout("response lost on the way back", request=request)
        return response


class FailingTransport(httpx.HTTPTransport):
    """Answers the first request to each path in ``fail`` with a 500 of its own, without sending it on."""

    def __init__(self, fail: set[str]) -> None:
        super().__init__()
        self.fail = set(fail)
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url.path)
        if request.url.path in self.fail:
            self.fail.discard(request.url.path)
            return httpx.Response(500, text="Internal Server Error", request=request)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def stack(redis_up, tmp_path_factory):
    settings, review = review_stack(redis_up, tmp_path_factory.mktemp("client-logs"), undo_seconds=60.0)
    publish_requests(settings, [request(f"c{i}", priority=1 - i / 100) for i in range(ITEMS)])
    with client(review, new_token(settings, "watcher")) as watcher:
        wait_enqueued(watcher, ITEMS)
    yield SimpleNamespace(settings=settings, review=review, url=url(review))
    review.stop(20)


def published(settings, record_id: str, count: int) -> list[dict]:
    def found() -> list[dict]:
        mine = [c for c in corrections(settings) if c["id"] == record_id]
        return mine if len(mine) >= count else []

    wait_for(found, 60, f"{count} correction(s) of {record_id}")
    time.sleep(1.0)  # anything published twice would be there by now
    return [c for c in corrections(settings) if c["id"] == record_id]


def test_the_calls_of_a_reviewers_day(stack):
    with ReviewClient(stack.url, new_token(stack.settings, "ana")) as ana:
        assert ana.me() == {"reviewer": "ana", "role": "reviewer"}
        assert ana.labels() == (LABELS, False)
        item = ana.claim()
        assert item is not None and item.labels == tuple(LABELS) and not item.overlap
        assert item.record["id"] == item.id and item.probabilities and item.reason == "uncertain"
        assert ana.claim().lease == item.lease  # claiming again: the item held
        assert ana.heartbeat(item.id, item.lease) >= item.lease_expires_at
        receipt = ana.answer(item.id, item.lease, "dog", note="tail visible")
        assert (receipt.id, receipt.label, receipt.state, receipt.undo_seconds) == (item.id, "dog", "done", 60.0)
        second = ana.claim()
        ana.skip(second.id, second.lease)
        stats = ana.stats()
        assert stats["reviewer"] == "ana" and stats["me"]["answered_today"] == 1
        assert "review.guidelines_file" in ana.guidelines()  # none configured: the service says how
        [recent] = ana.recent()
        assert (recent["answer_id"], recent["label"]) == (receipt.answer_id, "dog")
        fixed = ana.correct(receipt.answer_id, "cat")  # on second thought
        assert ana.recent()[0] | {"answered_at": 0, "correctable_until": 0} == {
            "id": item.id, "answer_id": fixed["answer_id"], "label": "cat", "corrected_from": "dog", "overlap": False,
            "answered_at": 0, "correctable_until": 0}
    answer, retraction, corrected = published(stack.settings, item.id, 3)
    assert (answer["reviewer"], answer["label"], answer["note"], answer["answer_id"]) == ("ana", "dog", "tail visible",
                                                                                          receipt.answer_id)
    assert (retraction["kind"], retraction["supersedes"], corrected["label"]) == ("retraction", receipt.answer_id, "cat")


def test_each_refusal_is_its_exception(stack):
    with ReviewClient(stack.url, "lsr_wrong") as stranger:
        with pytest.raises(Unauthorized, match="unknown or revoked token"):
            stranger.claim()
    with ReviewClient(stack.url, new_token(stack.settings, "ben")) as ben, \
            ReviewClient(stack.url, new_token(stack.settings, "cem")) as cem:
        item = ben.claim()
        with pytest.raises(LeaseLost) as lost:
            cem.answer(item.id, item.lease, "cat")  # ben's lease
        assert lost.value.status == 409
        with pytest.raises(Rejected, match="not in the label set"):
            ben.answer(item.id, item.lease, "unicorn")
        with pytest.raises(LeaseLost):
            cem.undo()  # cem answered nothing
        ben.answer(item.id, item.lease, "cat")
    with ReviewClient(f"http://127.0.0.1:{free_port()}", "lsr_x", retry_seconds=1.0) as nowhere:
        started = time.monotonic()
        with pytest.raises(Unavailable, match="cannot reach"):
            nowhere.claim()
        assert 0.5 < time.monotonic() - started < 5  # retried for retry_seconds, then gave up


def test_a_lost_answer_response_is_sent_again_and_counted_once(stack):
    transport = LosingTransport({"/api/v1/answer"})
    with ReviewClient(stack.url, new_token(stack.settings, "dan"), transport=transport) as dan:
        item = dan.claim()
        receipt = dan.answer(item.id, item.lease, "bird")
    assert transport.sent.count("/api/v1/answer") == 2  # the service saw it twice
    [answer] = published(stack.settings, item.id, 1)
    assert answer["answer_id"] == receipt.answer_id and answer["label"] == "bird"


def test_a_lost_undo_response_is_not_sent_again(stack):
    transport = LosingTransport({"/api/v1/undo"})
    with ReviewClient(stack.url, new_token(stack.settings, "eve"), transport=transport) as eve:
        first = eve.claim()
        eve.answer(first.id, first.lease, "cat")
        second = eve.claim()
        eve.answer(second.id, second.lease, "dog")
        with pytest.raises(Unavailable, match="no answer"):
            eve.undo()  # it happened, but the client cannot know: repeating it would withdraw the first answer too
    assert transport.sent.count("/api/v1/undo") == 1
    assert [c["kind"] for c in published(stack.settings, first.id, 1)] == ["answer"]
    assert sorted(c["kind"] for c in published(stack.settings, second.id, 2)) == ["answer", "retraction"]


def test_a_server_error_is_retried_like_an_outage(stack):
    """A 500 (the service failed on that call) is retried where repeating is harmless, as a 503 is; once
    ``retry_seconds`` have passed it is :class:`Unavailable`, which the simulated reviewers wait out."""
    transport = FailingTransport({"/api/v1/claim", "/api/v1/answer"})
    with ReviewClient(stack.url, new_token(stack.settings, "fay"), transport=transport) as fay:
        item = fay.claim()
        fay.answer(item.id, item.lease, "cat")
    assert transport.sent.count("/api/v1/claim") == 2 and transport.sent.count("/api/v1/answer") == 2
    assert [c["label"] for c in published(stack.settings, item.id, 1)] == ["cat"]
    always = FailingTransport(set())
    always.handle_request = lambda request: httpx.Response(500, text="boom", request=request)
    with ReviewClient(stack.url, new_token(stack.settings, "gus"), transport=always, retry_seconds=1.0) as gus:
        with pytest.raises(Unavailable) as failed:
            gus.claim()
    assert failed.value.status == 500
