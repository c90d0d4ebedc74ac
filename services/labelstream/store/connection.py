"""The Redis connection, with a readiness check that names the URL when Redis is down."""

from __future__ import annotations

import time

import redis

from labelstream.errors import ServiceUnavailable
from labelstream.settings import RedisSettings


def redis_client(settings: RedisSettings) -> redis.Redis:
    """A client for ``settings.url`` that connects on first use (nothing is checked yet)."""
    return redis.Redis.from_url(
        settings.url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30, retry_on_timeout=True
    )


def connect(settings: RedisSettings, wait_seconds: float = 0.0) -> redis.Redis:
    """A client for ``settings.url``; retries PING for ``wait_seconds`` before giving up."""
    client = redis_client(settings)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client.ping()
            return client
        except redis.RedisError as exc:
            if time.monotonic() >= deadline:
                raise ServiceUnavailable(f"Redis at {settings.url} does not answer ({exc}); start it with 'make up', "
                                         "or point redis.url (LABELSTREAM_REDIS__URL) at your Redis") from exc
            time.sleep(0.5)
