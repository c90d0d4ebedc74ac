"""Tokens (stored only as hashes) and the label set (grows only by an admin action), on the real Redis and CLI."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis

from labelstream.review.auth import TokenStore, token_hash
from labelstream.review.labelset import LabelSet
from labelstream.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_up) -> redis.Redis:
    return redis.Redis.from_url(redis_up.redis.url)


def prefix() -> str:
    return f"a{uuid.uuid4().hex[:8]}"


def test_a_token_is_stored_only_as_its_hash_and_names_its_reviewer(client):
    tokens = TokenStore(client, prefix())
    token = tokens.add("ana")
    admin = tokens.add("boss", "admin")
    stored = client.hgetall(tokens.key)
    assert token.encode() not in b"".join([*stored, *stored.values()])
    assert token_hash(token).encode() in stored
    assert tokens.authenticate(token).reviewer == "ana" and tokens.authenticate(token).role == "reviewer"
    assert tokens.authenticate(admin).is_admin
    for wrong in (None, "", token[:-1], token + "x", "lsr_" + "A" * 43, "Bearer " + token):
        assert tokens.authenticate(wrong) is None
    assert [(t.reviewer, t.role) for t in tokens.list()] == [("ana", "reviewer"), ("boss", "admin")]
    assert tokens.revoke(tokens.list()[1].token_id) == 1  # by id
    assert tokens.authenticate(admin) is None and tokens.authenticate(token) is not None
    tokens.add("ana")
    assert tokens.revoke("ana") == 2  # every token of a reviewer
    assert tokens.authenticate(token) is None and tokens.list() == []
    for bad in ("", "ana lopez", "consensus", "x" * 65, "-ana"):
        with pytest.raises(ValueError):
            tokens.add(bad)


def test_the_label_set_is_configured_plus_added_and_only_grows(client, tmp_path):
    taxonomy = tmp_path / "labels.txt"
    taxonomy.write_text("# animals\ncat\nbird   # any bird\n\ncat\n")
    settings = load_settings(labels={"classes": ["dog", "cat"], "taxonomy_file": str(taxonomy)}, redis={"key_prefix": prefix()})
    labels = LabelSet.from_settings(client, settings)
    assert labels.labels() == ["dog", "cat", "bird"]
    assert "bird" in labels and "fish" not in labels and not labels.is_open()
    assert labels.add("fish") and not labels.add("fish") and not labels.add("dog")
    assert labels.labels() == ["dog", "cat", "bird", "fish"] and "fish" in labels
    with pytest.raises(ValueError):
        labels.add(" fish")
    open_set = LabelSet(client, prefix())
    assert open_set.is_open() and "anything" in open_set
    open_set.add("spam")
    assert "anything" not in open_set and "spam" in open_set  # defined from the first label on


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labelstream", *args], capture_output=True, text=True, env=env, check=False)


def test_the_cli_prints_the_token_alone_on_its_last_line_and_manages_labels(redis_up):
    import os

    env = {**os.environ, "LABELSTREAM_REDIS__URL": redis_up.redis.url, "LABELSTREAM_REDIS__KEY_PREFIX": prefix()}
    added = run("review", "token", "add", "ana", "--role", "admin", env=env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("lsr_") and len(token.split()) == 1 and "ana" in added.stderr
    listed = run("review", "token", "list", "--json", env=env)
    assert '"reviewer": "ana"' in listed.stdout and token not in listed.stdout
    assert run("review", "token", "revoke", "nobody", env=env).returncode == 2
    assert run("labels", "add", "spam", "ham", env=env).stdout.splitlines() == ["added spam", "added ham"]
    assert run("labels", "list", env=env).stdout.splitlines() == ["spam", "ham"]
    bad = run("labels", "add", "bad\tname", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
