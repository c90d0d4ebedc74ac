"""Model versions in Redis: signed snapshots, the latest version, and history for rollback.

Keys (``<p>`` = key prefix, ``<m>`` = model name):
``<p>:model:<m>:v<N>`` the signed snapshot of version N;
``<p>:model:<m>:versions`` a sorted set of version numbers (by version);
``<p>:model:<m>:latest`` the live version number.
"""

from __future__ import annotations

import redis

from labelstream.core.snapshot import ModelState, dump_snapshot, load_snapshot
from labelstream.core.schemas import ModelVersion


class ModelRegistry:
    """Publish and load signed model snapshots of one model stream."""

    def __init__(self, client: redis.Redis, prefix: str, model_name: str, hmac_key: bytes, keep_versions: int = 20) -> None:
        self.client = client
        self.model_name = model_name
        self.hmac_key = hmac_key
        self.keep_versions = keep_versions
        self._base = f"{prefix}:model:{model_name}"

    def snapshot_key(self, version: int) -> str:
        return f"{self._base}:v{version}"

    def publish(self, state: ModelState) -> ModelVersion:
        """Store ``state`` signed, make it the latest, prune old versions; return its announcement."""
        key = self.snapshot_key(state.version)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(key, dump_snapshot(state, self.hmac_key))
        pipe.zadd(f"{self._base}:versions", {str(state.version): state.version})
        pipe.set(f"{self._base}:latest", state.version)
        pipe.execute()
        self._prune()
        return ModelVersion(
            model_name=self.model_name,
            version=state.version,
            created_at=state.created_at,
            snapshot_key=key,
            n_learned=state.model.n_learned,
            classes=sorted(state.model.classes),
            metrics=state.metrics,
        )

    def latest_version(self) -> int | None:
        raw = self.client.get(f"{self._base}:latest")
        return None if raw is None else int(raw)

    def versions(self) -> list[int]:
        return [int(v) for v in self.client.zrange(f"{self._base}:versions", 0, -1)]

    def load(self, version: int) -> ModelState | None:
        """The verified snapshot of ``version`` (``None`` when absent); SnapshotRejected when tampered."""
        blob = self.client.get(self.snapshot_key(version))
        return None if blob is None else load_snapshot(blob, self.hmac_key)

    def load_latest(self) -> ModelState | None:
        version = self.latest_version()
        return None if version is None else self.load(version)

    def set_latest(self, version: int) -> None:
        """Point ``latest`` at an existing version (rollback)."""
        if not self.client.exists(self.snapshot_key(version)):
            raise KeyError(f"model {self.model_name} has no version {version}")
        self.client.set(f"{self._base}:latest", version)

    def _prune(self) -> None:
        versions = self.versions()
        for old in versions[: max(0, len(versions) - self.keep_versions)]:
            self.client.delete(self.snapshot_key(old))
            self.client.zrem(f"{self._base}:versions", str(old))
