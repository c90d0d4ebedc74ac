"""``labelstream review`` for the lead, against the real Redis: what revoking a token does to held records."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from labelstream.cli.main import app
from labelstream.core.schemas import ReviewRequest
from labelstream.review.auth import TokenStore
from labelstream.review.items import QueueItem
from labelstream.review.queue import ReviewQueue
from labelstream.store.connection import connect

pytestmark = pytest.mark.integration


def _item(record_id: str) -> QueueItem:
    request = ReviewRequest.model_validate({
        "id": record_id, "record": {"id": record_id, "features": {"x": 1.0}}, "proposed_label": "cat",
        "probabilities": {"cat": 0.6, "dog": 0.4}, "reason": "uncertain", "priority": 0.5, "timestamp": time.time(),
    })
    return QueueItem.from_request(request.model_dump_json().encode())


def test_revoking_a_reviewers_last_token_gives_back_what_they_hold(settings_factory):
    settings = settings_factory()
    client = connect(settings.redis)
    queue = ReviewQueue.from_settings(client, settings)
    tokens = TokenStore(client, settings.redis.key_prefix)
    queue.enqueue([_item("r-1"), _item("r-2")])
    tokens.add("ana")
    tokens.add("ana")  # a second device
    tokens.add("bo")
    held_by_ana = queue.claim("ana").item.id
    held_by_bo = queue.claim("bo").item.id
    env = {"LABELSTREAM_REDIS__URL": settings.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": settings.redis.key_prefix}

    def revoke(name_or_id: str) -> str:
        result = CliRunner().invoke(app, ["review", "token", "revoke", name_or_id], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    one_of_bos = next(info.token_id for info in tokens.list() if info.reviewer == "bo")
    ana_device = next(info.token_id for info in tokens.list() if info.reviewer == "ana")
    assert revoke(ana_device) == f"revoked 1 token(s) of {ana_device}"  # ana still has a token: she keeps her record
    assert queue.held_ids("ana") == [held_by_ana]
    assert revoke("ana") == "revoked 1 token(s) of ana; requeued 1 record(s) they held"
    assert queue.held_ids("ana") == [] and queue.held_ids("bo") == [held_by_bo]
    assert queue.claim("cy").item.id == held_by_ana  # back in the queue now, not when the lease ends
    assert revoke(one_of_bos) == f"revoked 1 token(s) of {one_of_bos}; requeued 1 record(s) they held"
