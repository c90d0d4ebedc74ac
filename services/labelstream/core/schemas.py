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
import hashlib
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

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


# -- record schema evolution (docs/schema-evolution.md) ----------------------------------------

RECORD_SCHEMA_MAJOR = 1
"""The major version of the record schema this release reads (any minor of it: ``1``, ``"1.0"``, ``"1.7"``)."""

UnknownFields = Literal["metadata", "ignore", "reject"]
"""What the record decoder does with a top-level field the schema does not know (``limits.unknown_fields``)."""

_VERSION_TEXT = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,9}))?")


def record_schema_version(value: Any) -> int:
    """``1`` or ``"1.N"`` (a newer minor only adds optional fields) -> 1; another major is a ``ValueError``."""
    if type(value) is int:
        major = value
    elif type(value) is str and (match := _VERSION_TEXT.fullmatch(value)):
        major = int(match[1])
    else:
        raise ValueError(f'must be the major version (1) or "MAJOR.MINOR" as a string (e.g. "1.2"), got {value!r:.40}')
    if major != RECORD_SCHEMA_MAJOR:
        raise ValueError(
            f"major version {major} is not readable by this labelstream (it reads {RECORD_SCHEMA_MAJOR}.x); "
            "upgrade the services before the producers"
        )
    return RECORD_SCHEMA_MAJOR


RecordSchemaVersion = Annotated[
    int,
    PlainValidator(record_schema_version),
    WithJsonSchema(
        {
            "anyOf": [{"const": RECORD_SCHEMA_MAJOR}, {"type": "string", "pattern": rf"^{RECORD_SCHEMA_MAJOR}(\.[0-9]+)?$"}],
            "description": 'The major version (1) or "MAJOR.MINOR" ("1.3"): any minor of major 1 is read; '
            "a decoded record carries 1.",
        }
    ),
]


def _metadata_value(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float and math.isfinite(value):
        return value
    return json.dumps(value, separators=(",", ":"), allow_nan=True)  # objects, arrays, NaN/Infinity (ASCII-safe)


def metadata_from_unknown(unknown: Mapping[str, Any]) -> dict[str, Any]:
    """Unknown record fields as metadata entries: scalars as they are, anything else as compact JSON text.

    >>> metadata_from_unknown({"shop": "s1", "rank": 2, "tags": ["a", 1], "score": float("nan")})
    {'shop': 's1', 'rank': 2, 'tags': '["a",1]', 'score': 'NaN'}
    """
    return {name: _metadata_value(value) for name, value in unknown.items()}


class Record(_TopicValue):
    """An unlabeled record, the value on ``records`` (key: the id).

    Producers may add fields (docs/schema-evolution.md): a field the schema
    does not know is kept in ``metadata`` under its own name (an explicit
    ``metadata`` entry of the same name wins), wherever a record is read,
    including inside a ``review`` or ``deferred`` value, which forward the
    record as it was produced. Where records enter (the labeler, ``produce``)
    the record decoder passes ``limits.unknown_fields`` as the validation
    context's ``unknown_fields``: ``"ignore"`` drops them, ``"reject"``
    refuses the record.

    >>> record = Record.model_validate({"schema_version": "1.4", "id": "a", "features": {"x": 1}, "shop": "s1"})
    >>> record.schema_version, record.metadata
    (1, {'shop': 's1'})
    >>> Record.model_validate({"id": "a", "features": {"x": 1}, "shop": "s1"}, context={"unknown_fields": "ignore"}).metadata
    {}
    """

    model_config = ConfigDict(
        extra="allow",  # validated straight from JSON; the validator below sorts the extras out
        json_schema_extra={
            "description": "An unlabeled record, the value on records (key: the id). Producers may add fields and "
            "minor versions (docs/schema-evolution.md): a field the schema does not know is kept in metadata under "
            "its own name (limits.unknown_fields: metadata, ignore or reject where records enter).",
        }
    )

    schema_version: RecordSchemaVersion = RECORD_SCHEMA_MAJOR
    id: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    features: dict[StrictStr, FeatureValue] = Field(
        description="Feature name -> number or string (categorical).", max_length=10_000
    )
    text: StrictStr | None = None
    source: StrictStr | None = None
    timestamp: FiniteFloat | StrictInt | None = Field(None, description="Epoch seconds; the Kafka timestamp when absent.")
    metadata: dict[StrictStr, StrictStr | StrictInt | FiniteFloat | bool | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unknown_fields(self, info: ValidationInfo) -> Record:
        """Move, drop or refuse the fields the schema does not know, as the context's ``unknown_fields`` says."""
        unknown = self.__pydantic_extra__
        if not unknown:
            return self
        policy = (info.context or {}).get("unknown_fields", "metadata")
        if policy == "reject":
            raise PydanticCustomError(
                "extra_forbidden", "{field}: a field the record schema does not know (limits.unknown_fields is reject)",
                {"field": next(iter(unknown))[:64]},
            )
        if policy == "metadata":
            self.__dict__["metadata"] = metadata_from_unknown(unknown) | self.metadata
            self.__pydantic_fields_set__.add("metadata")
        self.__pydantic_fields_set__.difference_update(unknown)
        object.__setattr__(self, "__pydantic_extra__", {})
        return self


RECORD_FIELDS = frozenset(Record.model_fields)
"""The top-level fields of the record schema (1.0)."""


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


class FlaggedAnswer(BaseModel):
    """An answer held for a second review (``reason="disagreement"``): who gave it, and what the model says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer_id: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    reviewer: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    label: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    suggested_label: StrictStr = Field(description="The class the confident model predicts instead.")
    confidence: Annotated[float, Field(ge=0, le=1)] = Field(description="The model's probability of it.")


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
    flagged_answer: FlaggedAnswer | None = Field(
        None, description="reason=disagreement: the answer a confident model contradicted (label_errors); the "
        "review service asks one more reviewer and consolidates both answers (never shown to that reviewer).",
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


CorrectionKind = Literal["answer", "overlap", "consensus", "retraction", "gold", "hold"]
"""What a correction is (the review service sets it; corrections from elsewhere are answers):

- ``answer``: a reviewer's answer to an item only they answer; learned.
- ``overlap``: one reviewer's answer to an overlap item; kept for agreement, not learned alone.
- ``consensus``: the one label consolidated from an overlap item's answers; learned
  (``labels`` gets it with ``method=consensus``).
- ``retraction``: an undo; withdraws the earlier correction ``supersedes`` names; not learned.
- ``gold``: a reviewer's final answer to a gold item (a control item whose answer is known,
  :mod:`labelstream.review.gold`), ``correct`` says whether it was right; ``id`` is the gold item's id.
  Never learned by the model nor evidence: the policy may count it toward the reviewers' accuracy
  (``learn_gold``). When the gold item was shown with a proposal, ``proposal_correct`` says whether
  that proposal was the known label and ``agreed_with_proposal`` whether the answer was that proposal
  (both ``None`` without one). Written as schema ``"1.2"`` (1.1 added ``correct``, 1.2 the two
  proposal fields); a reader of a release without this kind dead-letters it (upgrade the learner first).
- ``hold``: the review service held ``reviewer`` from new items for low gold accuracy (``held`` true: their
  first claim refused) or let them claim again (``held`` false: their first claim granted since);
  :mod:`labelstream.review.holds`. Not an answer: ``id`` is ``hold:<reviewer>`` (one partition per reviewer,
  in order), ``label`` is ``held`` or ``released``. The policy's gold bound drops a held reviewer's gold
  answers (``hold_reviewer``; docs/contract.md section 5, "Holds"). Written as schema ``"1.3"``; a reader of
  a release without this kind dead-letters it (upgrade the learner first).

An ``answer`` or ``consensus`` with ``supersedes`` is a correction of one learned before (a reviewer
corrected their answer, or a corrected vote changed a consensus): learned, but its record was evidence
once already (:attr:`Correction.counted_before`).
"""


CORRECTION_GOLD_VERSION = f"{RECORD_SCHEMA_MAJOR}.2"
"""The correction schema's minor version a gold answer is written as: 1.1 added kind ``gold`` and its field
``correct``, 1.2 its fields ``proposal_correct`` and ``agreed_with_proposal``."""


CORRECTION_HOLD_VERSION = f"{RECORD_SCHEMA_MAJOR}.3"
"""The correction schema's minor version a hold is written as: 1.3 added kind ``hold`` and its field ``held``."""


class Correction(_TopicValue):
    """A human answer, the value on ``corrections`` (key: the record id).

    The review service gives every correction it publishes an ``answer_id``
    (``<record id>#<n>``, unique and never reused) and publishes each at most once.

    Corrections evolve by the records' rule (docs/schema-evolution.md): a
    newer review service may add optional fields and write ``schema_version``
    ``"1.N"``; this reader ignores the fields it does not know (a correction
    has no ``metadata`` to keep them in, and by the rule they change nothing
    it reads), and dead-letters another major version
    (``unsupported_schema_version``) or a ``kind`` it does not know.

    >>> Correction.model_validate({"schema_version": "1.9", "id": "r1", "label": "spam", "rubric": "v3"}).label
    'spam'
    """

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "description": "A human answer, the value on corrections (key: the record id). A newer writer may add "
            "optional fields and minor versions (docs/schema-evolution.md): readers ignore the fields they do not know.",
        },
    )

    schema_version: RecordSchemaVersion = RECORD_SCHEMA_MAJOR
    id: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    label: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    reviewer: Annotated[StrictStr, Field(min_length=1, max_length=256)] = "anonymous"
    note: StrictStr | None = None
    timestamp: float = Field(default_factory=now)
    answer_id: Annotated[StrictStr, Field(min_length=1, max_length=300)] | None = Field(
        None, description="Unique id of this answer (review service: '<id>#<n>')."
    )
    kind: CorrectionKind = Field(
        "answer", description="answer, overlap, consensus, retraction, gold or hold (see CorrectionKind)."
    )
    supersedes: Annotated[StrictStr, Field(min_length=1, max_length=300)] | None = Field(
        None, description="retraction: the answer_id it withdraws; answer, overlap, consensus: the answer_id it "
        "replaces (a correction, published after the retraction of that answer)."
    )
    answers: dict[StrictStr, StrictStr] | None = Field(
        None, description="consensus: reviewer -> label of every answer it consolidates.", max_length=100
    )
    consolidation: Literal["majority", "dawid_skene"] | None = Field(None, description="consensus: the method.")
    confidence: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="consensus: the method's probability of the label."
    )
    adjudicated: bool = Field(False, description="consensus: the answers disagreed and one more reviewer answered.")
    correct: bool | None = Field(
        None, description="gold (schema 1.1): the answer equals the gold item's known label."
    )
    proposal_correct: bool | None = Field(
        None, description="gold (schema 1.2): the proposal shown equals the gold item's known label; none when no "
        "proposal was shown."
    )
    agreed_with_proposal: bool | None = Field(
        None, description="gold (schema 1.2): the answer equals the proposal shown; none when no proposal was shown."
    )
    held: bool | None = Field(
        None, description="hold (schema 1.3): the reviewer is held from new items from now on (true) or claims "
        "again (false)."
    )
    adjudication_timed_out: bool = Field(
        False, description="consensus: the answers disagreed and no further reviewer answered within "
        "review.adjudication_timeout_seconds; consolidated from the answers there were.",
    )

    def wire_json(self) -> bytes:
        """The value a writer publishes: ``schema_version`` ``"1.2"`` for a ``gold`` answer (the minor version of
        its newest fields, :data:`CORRECTION_GOLD_VERSION`), ``"1.3"`` for a ``hold`` (:data:`CORRECTION_HOLD_VERSION`),
        1 for the rest (what 1.0 has).

        >>> Correction(id="g1", label="cat", kind="gold", correct=True).wire_json()[:24]
        b'{"schema_version":"1.2",'
        """
        if self.kind not in ("gold", "hold"):
            return self.model_dump_json().encode()
        version = CORRECTION_GOLD_VERSION if self.kind == "gold" else CORRECTION_HOLD_VERSION
        data = self.model_dump(mode="json") | {"schema_version": version}
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

    @property
    def counted_before(self) -> bool:
        """A correction of a learned answer or consensus: the model learns it, the policy's evidence and
        reviewer-accuracy bound do not count its record again (a bet placed cannot be taken back).

        >>> Correction(id="r1", label="dog", answer_id="r1#3", supersedes="r1#1").counted_before
        True
        >>> Correction(id="r1", label="dog", kind="retraction", supersedes="r1#1").counted_before
        False
        """
        return self.supersedes is not None and self.kind != "retraction"


class DeadLetter(_TopicValue):
    """Input that could not be processed, with the reason, on ``records.dlq``."""

    error_kind: str = Field(description="Short machine-readable kind, e.g. invalid_json, too_large.")
    error: str = Field(description="Human-readable reason.")
    raw: str = Field(description="The original message value, base64 (only its first bytes when `truncated`).")
    key: str | None = Field(None, description="The original key, base64 (only its first bytes when `truncated`).")
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    service: str
    timestamp: float = Field(default_factory=now)
    truncated: bool = Field(
        False,
        description="A dead letter by reference: the value was too large to carry whole, `raw` holds its first "
        "bytes; the whole value stays at source_topic/partition/offset (until the topic's retention).",
    )
    size: int | None = Field(None, ge=0, description="Bytes of the original value.")
    sha256: str | None = Field(None, description="SHA-256 of the original value (hex), to match it at its offset.")

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
        max_raw_bytes: int | None = None,
        prefix_bytes: int = 1024,
    ) -> DeadLetter:
        """A dead letter that keeps the original bytes (base64) and where they came from.

        With ``max_raw_bytes``, a value (or key) longer than that is carried by
        reference: its first ``prefix_bytes``, its size and SHA-256, and its
        place in the source topic, so that a record too large to dead-letter
        whole never blocks its partition.

        >>> letter = DeadLetter.from_raw(b"x" * 5000, b"k", "too_large", "big", "records", "labeler", 0, 7,
        ...                              max_raw_bytes=4096, prefix_bytes=4)
        >>> letter.truncated, letter.raw_bytes(), letter.size, letter.offset
        (True, b'xxxx', 5000, 7)
        """
        value = value or b""
        truncated = max_raw_bytes is not None and (len(value) > max_raw_bytes or len(key or b"") > max_raw_bytes)
        if truncated:
            value_kept, key_kept = value[:prefix_bytes], None if key is None else key[:prefix_bytes]
        else:
            value_kept, key_kept = value, key
        return cls(
            error_kind=error_kind,
            error=error,
            raw=base64.b64encode(value_kept).decode(),
            key=None if key_kept is None else base64.b64encode(key_kept).decode(),
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            service=service,
            truncated=truncated,
            size=len(value),
            sha256=hashlib.sha256(value).hexdigest(),
        )

    def raw_bytes(self) -> bytes:
        """The original message value (its first bytes when :attr:`truncated`)."""
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
