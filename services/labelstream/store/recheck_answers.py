"""The answers the learner keeps for the recheck, beside the model version they belong to (docs/contract.md).

The recheck (:mod:`labelstream.core.calibration_recheck`) re-scores the
generation's answered records with each new model version. Their model inputs
are the learner's alone — labelers need only the thresholds validated, which
ship in the snapshot — so they are stored under one key of their own,
``<p>:model:<m>:recheck_answers``, signed like the snapshots and tagged with
the version whose state they match. The learner writes it after each version
it publishes (``labelstream models bootstrap`` too, with its held-out answers,
before it publishes version 1) and reads it when it starts from that version: a restarted
learner keeps its validations instead of withdrawing every threshold until new
answers validate them again. A stored set of another version (the learner died
between the two writes, or a rollback made another version the latest) is not
used: the recheck then starts from the answers to come, as before.
"""

from __future__ import annotations

import pickle
from typing import Any

import redis

from labelstream.core.snapshot import sign, verify
from labelstream.errors import SnapshotRejected
from labelstream.settings import Settings


class RecheckAnswers:
    """The kept answers of the latest published version of one model stream, signed, in Redis."""

    def __init__(self, client: redis.Redis, prefix: str, model_name: str, hmac_key: bytes) -> None:
        self.client = client
        self.key = f"{prefix}:model:{model_name}:recheck_answers"
        self.hmac_key = hmac_key

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> RecheckAnswers:
        return cls(client, settings.redis.key_prefix, settings.model.model_name,
                   settings.learner.snapshot_hmac_key.get_secret_value().encode())

    def dump(self, version: int, kept: dict[str, Any]) -> bytes:
        """The signed bytes of ``kept`` (:meth:`ContractPolicy.kept_answers`) for ``version``."""
        return sign(pickle.dumps({"version": version, "kept": kept}, protocol=pickle.HIGHEST_PROTOCOL), self.hmac_key)

    def save(self, version: int, kept: dict[str, Any]) -> int:
        """Store ``kept`` as the answers of ``version``; its size in bytes."""
        blob = self.dump(version, kept)
        self.client.set(self.key, blob)
        return len(blob)

    def load(self, version: int) -> dict[str, Any] | None:
        """The kept answers stored for ``version``; ``None`` when absent, of another version, or not signed by us."""
        blob = self.client.get(self.key)
        if blob is None:
            return None
        try:
            stored = pickle.loads(verify(blob, self.hmac_key))  # noqa: S301 - signature verified first
        except SnapshotRejected:
            return None
        return stored["kept"] if stored.get("version") == version else None
