"""Review tokens: created by an admin at the CLI, stored only as a hash, one reviewer each.

A token is ``lsr_`` and 43 random URL-safe characters (256 bits). Redis keeps
its SHA-256 (``<prefix>:review:tokens``: hash -> name, role, creation time), so
a copy of Redis gives no usable token; a fast hash is enough for a secret of
that entropy (as GitHub stores its tokens). The reviewer id of every answer is
the token's name, never a field of the request.

Roles: ``reviewer`` answers items; ``expert`` also gets the items reviewers
were not sure of (first); ``admin`` also calls the admin endpoints (expire items).

>>> check_reviewer_name("ana.lopez")
'ana.lopez'
>>> check_reviewer_name("consensus")
Traceback (most recent call last):
...
ValueError: 'consensus' is reserved (the consolidated answers use it)
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import orjson

if TYPE_CHECKING:  # only a type here: `labelstream review token --help` need not load redis
    import redis

Role = Literal["reviewer", "expert", "admin"]
ROLES: tuple[Role, ...] = ("reviewer", "expert", "admin")
TOKEN_PREFIX = "lsr_"
CONSENSUS_REVIEWER = "consensus"
"""The ``reviewer`` of a consensus correction; no token may take the name."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_reviewer_name(name: str) -> str:
    """``name`` if it can name a reviewer (1-64 of letters, digits, ``._@-``), else :class:`ValueError`."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a reviewer name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (got {name!r})")
    if name == CONSENSUS_REVIEWER:
        raise ValueError(f"{name!r} is reserved (the consolidated answers use it)")
    return name


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token belongs to."""

    reviewer: str
    role: Role
    token_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_expert(self) -> bool:
        return self.role == "expert"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token, without the secret: its id (start of its hash), name, role and creation time."""

    token_id: str
    reviewer: str
    role: Role
    created_at: float


class TokenStore:
    """Create, check, list and revoke review tokens (Redis hash of token hashes)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}:review:tokens"

    def add(self, reviewer: str, role: Role = "reviewer") -> str:
        """A new token for ``reviewer``; the only time the token itself is seen."""
        check_reviewer_name(reviewer)
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        value = orjson.dumps({"reviewer": reviewer, "role": role, "created_at": time.time()})
        self.client.hset(self.key, token_hash(token), value)
        return token

    def authenticate(self, token: str | None) -> Principal | None:
        """The token's principal, or ``None`` for a missing, unknown or revoked token."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_hash(token)
        raw = self.client.hget(self.key, digest)
        if raw is None:
            return None
        data = orjson.loads(raw)
        return Principal(data["reviewer"], data["role"], digest[:10])

    def list(self) -> list[TokenInfo]:
        """Every token, oldest first."""
        infos = []
        for digest, raw in self.client.hgetall(self.key).items():
            data = orjson.loads(raw)
            infos.append(TokenInfo(digest.decode()[:10], data["reviewer"], data["role"], data["created_at"]))
        return sorted(infos, key=lambda info: info.created_at)

    def experts(self) -> set[str]:
        """The reviewers with a token of the expert role."""
        return {data["reviewer"] for data in map(orjson.loads, self.client.hvals(self.key)) if data["role"] == "expert"}

    def revoke(self, reviewer_or_id: str) -> int:
        """Revoke every token of a reviewer, or the one whose id is given; how many were revoked."""
        doomed = [
            digest
            for digest, raw in self.client.hgetall(self.key).items()
            if orjson.loads(raw)["reviewer"] == reviewer_or_id or digest.decode()[:10] == reviewer_or_id
        ]
        return int(self.client.hdel(self.key, *doomed)) if doomed else 0
