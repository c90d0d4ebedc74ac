"""One leader among review service instances: it alone publishes the outbox and consolidates.

Any number of instances may serve the page and the API (all state is in
Redis), but two publishers reading one outbox would publish answers twice. The
leader holds ``<prefix>:review:leader`` (a random token, expiring after
``ttl_seconds``) and renews it; another instance takes over when it stops
renewing. The outbox trim checks the token in the same script (see
:mod:`~labelstream.review.outbox`), so a leader that lost the lock cannot
remove entries a new leader is publishing.
"""

from __future__ import annotations

import secrets

import redis

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeaderLock:
    """A renewable Redis lock; :meth:`hold` takes or renews it."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: float = 10.0) -> None:
        self.client = client
        self.key = f"{prefix}:review:leader"
        self.token = secrets.token_hex(16)
        self.ttl_ms = int(ttl_seconds * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Take the lock if free, renew it if ours; whether we are the leader now."""
        return bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms], client=self.client))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token], client=self.client)
