"""Model versions in Redis: signed snapshots, the latest version, and history for rollback.

Keys (``<p>`` = key prefix, ``<m>`` = model name):
``<p>:model:<m>:v<N>`` the signed snapshot of version N;
``<p>:model:<m>:versions`` a sorted set of version numbers (by version);
``<p>:model:<m>:latest`` the live version number;
``<p>:model:<m>:next`` the last version number handed out (the learner and a
rollback never take the same one).
"""

from __future__ import annotations

import redis

from labelstream.core.schemas import ModelVersion
from labelstream.core.snapshot import ModelState, dump_snapshot, load_snapshot
from labelstream.settings import Settings

_ALLOCATE = """
local v = redis.call('INCR', KEYS[1])
local latest = tonumber(redis.call('GET', KEYS[2]) or '0')
if v <= latest then v = latest + 1; redis.call('SET', KEYS[1], v) end
return v
"""


# Store the snapshot; ``latest`` only moves forward (a slow publisher never hides a newer rollback).
_PUBLISH = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[2])
if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[2]) then redis.call('SET', KEYS[3], ARGV[2]) end
return 1
"""

# The same, unless ``latest`` moved past the version the publisher built on (ARGV[3]): then nothing is stored.
_PUBLISH_OVER = """
if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[3]) then return 0 end
""" + _PUBLISH


class ModelRegistry:
    """Publish and load signed model snapshots of one model stream."""

    def __init__(self, client: redis.Redis, prefix: str, model_name: str, hmac_key: bytes, keep_versions: int = 20) -> None:
        self.client = client
        self.model_name = model_name
        self.hmac_key = hmac_key
        self.keep_versions = keep_versions
        self._base = f"{prefix}:model:{model_name}"
        self._allocate = client.register_script(_ALLOCATE)
        self._publish = client.register_script(_PUBLISH)
        self._publish_over = client.register_script(_PUBLISH_OVER)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> ModelRegistry:
        """The registry of ``settings.model.model_name``, signed with ``learner.snapshot_hmac_key``."""
        return cls(
            client,
            settings.redis.key_prefix,
            settings.model.model_name,
            settings.learner.snapshot_hmac_key.get_secret_value().encode(),
            settings.learner.keep_versions,
        )

    def allocate_version(self) -> int:
        """A new version number, above every one handed out or published."""
        return int(self._allocate(keys=[f"{self._base}:next", f"{self._base}:latest"], client=self.client))

    def rollback(self, to_version: int, reason: str = "") -> ModelVersion:
        """Publish the model of ``to_version`` again as a new version (the stream position stays the latest's).

        The new version holds the old model, calibration and policy state, and
        the latest version's learned offsets: corrections learned since
        ``to_version`` are not replayed into it, they are dropped with the model
        that learned them.
        """
        old = self.load(to_version)
        if old is None:
            kept = ", ".join(map(str, self.versions())) or "none yet"
            raise KeyError(f"model {self.model_name} has no version {to_version} (kept: {kept}); see labelstream models list")
        latest = self.load_latest()
        state = ModelState(
            model=old.model,
            featurizer=old.featurizer,
            version=self.allocate_version(),
            policy_state=old.policy_state,
            metrics={**old.metrics, "rollback_of": float(to_version)},
            source_offsets=dict(latest.source_offsets) if latest is not None else dict(old.source_offsets),
        )
        return self.publish(state)

    def snapshot_key(self, version: int) -> str:
        return f"{self._base}:v{version}"

    def publish(self, state: ModelState) -> ModelVersion:
        """Store ``state`` signed, make it the latest, prune old versions; return its announcement."""
        key = self.snapshot_key(state.version)
        self._publish(
            keys=[key, f"{self._base}:versions", f"{self._base}:latest"],
            args=[dump_snapshot(state, self.hmac_key), state.version],
            client=self.client,
        )
        self._prune()
        return self._announcement(state)

    def publish_over(self, state: ModelState, base: int) -> ModelVersion | None:
        """:meth:`publish`, but only while the latest version is still ``base``, the one ``state`` grew from.

        ``None``, nothing stored, when another version went live meanwhile (a rollback, an import): the
        state would hide it. The check and the store are one Redis script.
        """
        key = self.snapshot_key(state.version)
        stored = self._publish_over(
            keys=[key, f"{self._base}:versions", f"{self._base}:latest"],
            args=[dump_snapshot(state, self.hmac_key), state.version, base],
            client=self.client,
        )
        if not stored:
            return None
        self._prune()
        return self._announcement(state)

    def _announcement(self, state: ModelState) -> ModelVersion:
        key = self.snapshot_key(state.version)
        return ModelVersion(
            model_name=self.model_name,
            version=state.version,
            created_at=state.created_at,
            snapshot_key=key,
            # the learner's count survives a challenger swap; the model's own starts over
            n_learned=int(state.metrics.get("corrections_applied", state.model.n_learned)),
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
