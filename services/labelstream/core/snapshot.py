"""Signed model snapshots: what a model version holds, and how it is verified before loading.

A snapshot is ``MAGIC + HMAC-SHA256(key, payload) + payload`` where payload
is a pickle. The signature is checked in constant time *before* anything is
unpickled, so bytes written by anyone without the key are refused and never
executed.

>>> from labelstream.core.featurizer import Featurizer
>>> from labelstream.core.model import OnlineModel
>>> state = ModelState(model=OnlineModel(), featurizer=Featurizer(), version=1)
>>> blob = dump_snapshot(state, key=b"k")
>>> load_snapshot(blob, key=b"k").version
1
>>> load_snapshot(blob, key=b"other")
Traceback (most recent call last):
...
labelstream.errors.SnapshotRejected: snapshot signature does not match (wrong key or tampered bytes)

A model file (``labelstream models export`` / ``import``) is a snapshot in the
same format. :func:`load_model_file` refuses one that is unsigned or signed
with another key unless ``trust`` (then it is unpickled anyway: only for a file
whose origin you trust, since unpickling runs code the file names):

>>> load_model_file(blob, key=b"other", trust=True)[0].version, load_model_file(blob, key=b"other", trust=True)[1]
(1, 'signed with another key')
>>> load_model_file(pickle.dumps(state), key=b"k", trust=True)[1]
'unsigned'
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labelstream.errors import SnapshotRejected

if TYPE_CHECKING:  # types only: listing versions (labelstream models list) need not load river
    from labelstream.core.featurizer import Featurizer
    from labelstream.core.model import OnlineModel

MAGIC = b"LSNAP1"
_DIGEST_SIZE = hashlib.sha256().digest_size


@dataclass
class ModelState:
    """Everything a labeler needs from a model version."""

    model: OnlineModel
    featurizer: Featurizer
    version: int
    policy_state: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    metrics: dict[str, float] = field(default_factory=dict)
    source_offsets: dict[str, int] = field(default_factory=dict)
    """Next offset of each corrections partition (``"topic:partition"``) already learned into this state."""


def sign(payload: bytes, key: bytes) -> bytes:
    """Prefix ``payload`` with the magic and its HMAC."""
    return MAGIC + hmac.new(key, payload, hashlib.sha256).digest() + payload


def verify(blob: bytes, key: bytes) -> bytes:
    """The payload of a signed blob; :class:`SnapshotRejected` when unsigned or tampered."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _DIGEST_SIZE:
        raise SnapshotRejected("not a labelstream snapshot (missing signature header)")
    signature = blob[len(MAGIC) : len(MAGIC) + _DIGEST_SIZE]
    payload = blob[len(MAGIC) + _DIGEST_SIZE :]
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise SnapshotRejected("snapshot signature does not match (wrong key or tampered bytes)")
    return payload


def dump_snapshot(state: ModelState, key: bytes) -> bytes:
    """Pickle and sign a model state."""
    return sign(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), key)


def load_snapshot(blob: bytes, key: bytes) -> ModelState:
    """Verify, then unpickle a model state."""
    payload = verify(blob, key)
    state = pickle.loads(payload)  # noqa: S301 - signature verified above
    if not isinstance(state, ModelState):
        raise SnapshotRejected(f"snapshot holds a {type(state).__name__}, not a ModelState")
    return state


def load_model_file(blob: bytes, key: bytes, trust: bool = False) -> tuple[ModelState, str]:
    """A model file's state and how it was checked: ``"signed"`` (verified with ``key``), else (only with ``trust``)
    ``"signed with another key"`` or ``"unsigned"``; :class:`SnapshotRejected` otherwise."""
    try:
        return load_snapshot(blob, key), "signed"
    except SnapshotRejected:
        if not trust:
            raise
    signed = blob.startswith(MAGIC) and len(blob) > len(MAGIC) + _DIGEST_SIZE
    payload = blob[len(MAGIC) + _DIGEST_SIZE :] if signed else blob
    try:
        state = pickle.loads(payload)  # noqa: S301 - the caller trusts the file (--trust)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means not a model file
        raise SnapshotRejected(f"not a labelstream model file ({type(exc).__name__}: {exc})"[:300]) from exc
    if not isinstance(state, ModelState):
        raise SnapshotRejected(f"the file holds a {type(state).__name__}, not a ModelState")
    return state, "signed with another key" if signed else "unsigned"
