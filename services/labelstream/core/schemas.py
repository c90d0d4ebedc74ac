"""The value of every labelstream topic, as pydantic v2 models.

These models are the source of truth: ``labelstream schemas export`` writes
their JSON Schema to ``schemas/`` and ``labelstream schemas check`` fails when
the checked-in files differ. Every model carries ``schema_version``.

>>> r = Record(id="r1", features={"x": 1.5, "colour": "red"})
>>> r.features["colour"]
'red'
>>> Record(id="r2", features={"x": float("nan")})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Record
features.x
  Value error, is not finite (nan) [type=value_error, input_value=nan, input_type=float]
    For further information visit https://errors.pydantic.dev/2.14/v/value_error
"""

from __future__ import annotations

import base64
import math
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictFloat, StrictInt, StrictStr, WithJsonSchema

SCHEMA_VERSION = 1

Method = Literal["auto", "human", "weak", "consensus"]
ReviewReason = Literal["uncertain", "audit", "cold_start", "drift", "disagreement", "relabel"]
DeferReason = Literal["over_budget", "no_evidence", "model_unavailable"]
Outcome = Literal["label", "review", "deferred"]

FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]
MAX_ABS_INT = 2**63


def _feature_value(value: Any) -> int | float | str:
    kind = type(value)
    if kind is str:
        return value
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            raise ValueError(f"is not finite ({value})")
        return value
    if kind is int:
        if -MAX_ABS_INT <= value <= MAX_ABS_INT:
            return value
        raise ValueError("integer out of range (|x| <= 2**63)")
    if kind is bool:
        return int(value)
    raise ValueError(f"must be a number or a string, got {kind.__name__}")


FeatureValue = Annotated[
    int | float | str,
    PlainValidator(_feature_value),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]}),
]
"""A feature is a finite number or a string (categorical). Booleans become 0/1."""

Probabilities = dict[str, Annotated[float, Field(ge=0, le=1)]]


def now() -> float:
    """Epoch seconds: the timestamp format of every topic."""
    return time.time()


class _TopicValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1] = SCHEMA_VERSION


class Record(_TopicValue):
    """An unlabeled record, the value on ``records`` (key: the id)."""

    id: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    features: dict[StrictStr, FeatureValue] = Field(
        description="Feature name -> number or string (categorical).", max_length=10_000
    )
    text: StrictStr | None = None
    source: StrictStr | None = None
    timestamp: FiniteFloat | StrictInt | None = Field(None, description="Epoch seconds; the Kafka timestamp when absent.")
    metadata: dict[StrictStr, StrictStr | StrictInt | FiniteFloat | bool | None] = Field(default_factory=dict)


class Label(_TopicValue):
    """A record's label, the value on ``labels`` (key: the record id).

    A human label (``method="human"``) supersedes an automatic one for the same id. An automatic
    label whose score combined labeling-function votes with the model is ``method="weak"`` and
    carries the ``votes``.
    """

    id: StrictStr
    label: StrictStr
    confidence: Annotated[float, Field(ge=0, le=1)]
    method: Method
    model_version: int | None = None
    policy: str = ""
    relabeled: bool = False
    reviewer: str | None = None
    timestamp: float = Field(default_factory=now)
    votes: dict[StrictStr, StrictStr] | None = Field(
        None, description="method=weak: the labeling functions' votes (name -> label); abstentions left out."
    )


class ReviewRequest(_TopicValue):
    """A record that needs a human answer, the value on ``review``."""

    id: StrictStr
    record: Record
    proposed_label: StrictStr | None
    probabilities: Probabilities
    reason: ReviewReason
    priority: float = Field(0.0, description="Expected value of the answer; higher is served first.")
    inclusion_probability: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, description="Probability that the routing sent this record to review (for unbiased estimates)."
    )
    model_version: int | None = None
    timestamp: float = Field(default_factory=now)
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="How the policy routed the record (opaque: model version, drift generation, threshold, "
        "review probability, ...); only the policy reads it.",
    )


class Deferred(_TopicValue):
    """A record that waits (over budget, no evidence yet), the value on ``deferred``."""

    id: StrictStr
    record: Record
    reason: DeferReason
    proposed_label: StrictStr | None = None
    probabilities: Probabilities = Field(default_factory=dict)
    model_version: int | None = None
    timestamp: float = Field(default_factory=now)


class Correction(_TopicValue):
    """A human answer, the value on ``corrections`` (key: the record id)."""

    id: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    label: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    reviewer: Annotated[StrictStr, Field(min_length=1, max_length=256)] = "anonymous"
    note: StrictStr | None = None
    timestamp: float = Field(default_factory=now)


class DeadLetter(_TopicValue):
    """Input that could not be processed, with the reason, on ``records.dlq``."""

    error_kind: str = Field(description="Short machine-readable kind, e.g. invalid_json, too_large.")
    error: str = Field(description="Human-readable reason.")
    raw: str = Field(description="The original message value, base64.")
    key: str | None = Field(None, description="The original key, base64.")
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    service: str
    timestamp: float = Field(default_factory=now)

    @classmethod
    def from_raw(
        cls,
        value: bytes | None,
        key: bytes | None,
        error_kind: str,
        error: str,
        source_topic: str,
        service: str,
        partition: int | None = None,
        offset: int | None = None,
    ) -> DeadLetter:
        """A dead letter that keeps the original bytes (base64) and where they came from."""
        return cls(
            error_kind=error_kind,
            error=error,
            raw=base64.b64encode(value or b"").decode(),
            key=None if key is None else base64.b64encode(key).decode(),
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            service=service,
        )

    def raw_bytes(self) -> bytes:
        """The original message value."""
        return base64.b64decode(self.raw)


class ModelVersion(_TopicValue):
    """Announcement of a model version, on the compacted ``model-versions`` topic."""

    model_name: str
    version: int = Field(ge=1)
    created_at: float
    snapshot_key: str = Field(description="Redis key of the signed snapshot.")
    n_learned: int = Field(ge=0, description="Corrections learned since the start.")
    classes: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)


EventKind = Literal[
    "drift", "threshold_changed", "rollback", "budget_exhausted", "model_rejected", "model_published", "relabel"
]


class Event(_TopicValue):
    """Something ops should know, on ``events`` (key: the kind)."""

    kind: EventKind
    service: str
    detail: dict[str, Any] = Field(default_factory=dict)
    timestamp: float = Field(default_factory=now)


TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "records": Record,
    "dlq": DeadLetter,
    "labels": Label,
    "review": ReviewRequest,
    "deferred": Deferred,
    "corrections": Correction,
    "model_versions": ModelVersion,
    "events": Event,
}
"""Topic role (as in :class:`~labelstream.settings.TopicSettings`) -> value model."""
