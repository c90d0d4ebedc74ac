"""Settings: environment variables (prefix ``LABELSTREAM_``) over an optional TOML file.

Nested sections use ``__`` in environment variables, e.g.
``LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or
``LABELSTREAM_POLICY__TARGET_PRECISION=0.97``; the TOML file has one table per
section (``[kafka]``, ``[policy]``, ...). Precedence: constructor arguments,
environment, TOML file, defaults. An invalid value fails at start with a
:class:`~labelstream.errors.ConfigError` naming the setting.

>>> load_settings(policy={"target_precision": 0.97}).policy.target_precision
0.97
>>> load_settings(model={"name": "svm"})
Traceback (most recent call last):
...
labelstream.errors.ConfigError: invalid setting model.name (LABELSTREAM_MODEL__NAME): Input should be 'logistic', 'hoeffding_adaptive_tree', 'arf' or 'gaussian_nb' (got 'svm')
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from labelstream.core.schemas import UnknownFields
from labelstream.errors import ConfigError

ENV_PREFIX = "LABELSTREAM_"
CONFIG_FILE_ENV = "LABELSTREAM_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    """Connection to the Kafka cluster; security settings pass through to every client."""

    bootstrap_servers: str = "localhost:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    client_extra: dict[str, str] = Field(
        default_factory=dict,
        description="Extra librdkafka properties for every confluent-kafka client.",
    )

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ValueError("sasl_mechanism is required when security_protocol is SASL_*")
            if self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512") and not (
                self.sasl_username and self.sasl_password
            ):
                raise ValueError(f"sasl_username and sasl_password are required for {self.sasl_mechanism}")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.exists():
                raise ValueError(f"{name} {path} does not exist")
        return self


class RedisSettings(_Section):
    url: str = "redis://localhost:6379/0"
    key_prefix: str = "labelstream"
    record_ttl_seconds: int = Field(7 * 24 * 3600, gt=0, description="How long a record's features stay joinable.")
    store_auto_labeled: bool = Field(
        False, description="Also keep features of auto-labeled records (lets humans correct them later)."
    )


class TopicSettings(_Section):
    records: str = "records"
    dlq: str = "records.dlq"
    labels: str = "labels"
    review: str = "review"
    deferred: str = "deferred"
    corrections: str = "corrections"
    model_versions: str = "model-versions"
    events: str = "events"
    partitions: int = Field(3, ge=1, description="Partitions of the data topics (records, labels, review, ...).")
    replication_factor: int = Field(1, ge=1)
    retention_ms: int = Field(
        7 * 24 * 3600 * 1000, ge=-1, description="Retention of the data topics; -1 keeps forever."
    )

    def data_topics(self) -> dict[str, str]:
        """Role -> topic name, for every topic labelstream uses."""
        return {
            role: getattr(self, role)
            for role in ("records", "dlq", "labels", "review", "deferred", "corrections", "model_versions", "events")
        }


class LimitSettings(_Section):
    max_record_bytes: int = Field(64 * 1024, gt=0, description="Records larger than this go to the DLQ.")
    max_features: int = Field(1000, gt=0)
    max_feature_name_length: int = Field(128, gt=0)
    max_string_length: int = Field(1024, gt=0, description="Longest categorical value or id.")
    max_text_length: int = Field(32 * 1024, gt=0)
    unknown_fields: UnknownFields = Field(
        "metadata",
        description="A record field the schema does not know (a producer added it): kept in the record's metadata, "
        "ignored, or the record dead-lettered (reject). docs/schema-evolution.md",
    )


ModelName = Literal["logistic", "hoeffding_adaptive_tree", "arf", "gaussian_nb"]


class ModelSettings(_Section):
    name: ModelName = "logistic"
    model_name: str = Field("default", description="Name of the model stream (key on model-versions).")
    seed: int = 42
    categorical_encoding: Literal["one_hot", "hashed"] = "one_hot"
    hash_buckets: int = Field(1024, gt=0)
    learning_rate: float = Field(0.05, gt=0)


StrategyName = Literal[
    "least_confidence",
    "margin",
    "entropy",
    "query_by_committee",
    "fixed_uncertainty",
    "variable_uncertainty",
    "randomized_variable_uncertainty",
    "split",
    "river_entropy",
]


class PolicySettings(_Section):
    """Routing: ``contract`` (calibrated per-class auto-accept), or the baselines ``threshold`` and
    ``active_learner`` (auto-label unless the strategy asks, no contract)."""

    name: Literal["threshold", "contract", "active_learner"] = "contract"
    confidence_threshold: float = Field(0.9, gt=0, le=1, description="threshold policy: auto-label at or above this.")
    cold_start_records: int = Field(100, ge=0, description="The first N records go to review.")
    cold_start_corrections: int = Field(50, ge=0, description="...or until the model has learned from N corrections.")
    target_precision: float = Field(0.95, gt=0, lt=1)
    confidence_level: float = Field(0.95, gt=0, lt=1)
    review_budget_share: float | None = Field(
        0.3,
        gt=0,
        le=1,
        description="Share of the stream humans may review (None, or null in the environment: no limit).",
    )
    review_budget_per_minute: float | None = Field(None, gt=0)
    budget_reserve: float = Field(
        0.1, ge=0, lt=1, description="Share of the review budget kept for audits and cold start."
    )
    audit_share: float = Field(0.05, ge=0, le=1, description="Share of would-be auto-labels audited at random.")
    boundary_share: float = Field(
        0.05, ge=0, le=1, description="Share of would-be auto-labels, the least confident, reviewed (learning, drift)."
    )
    strategy: StrategyName = "split"
    min_inclusion_probability: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Floor of the chance that a record below its class's threshold is asked about (before the "
        "budget gate): answers from there count toward lower thresholds in proportion to it.",
    )
    guarantee: Literal["per_class", "overall"] = Field(
        "per_class", description="Whose precision meets the target: each predicted class's, or all auto-labels'."
    )
    reviewer_accuracy: float = Field(
        1.0,
        gt=0.5,
        le=1,
        description="The share of right answers reviewers give at most; below 1 the contract holds against the truth "
        "only if reviewers err independently of the model (docs/contract.md). 1: no assumption.",
    )
    reviewer_accuracy_from_overlap: bool = Field(
        False,
        description="Measure how accurate reviewers are at most from overlap items (review.overlap_share) and lower "
        "the agreement bar to match: half the error goes to that bound, split evenly with the gold bound if that is "
        "on too (docs/contract.md, Noisy reviewers).",
    )
    reviewer_accuracy_from_gold: bool = Field(
        False,
        description="Measure how accurate reviewers are at most from their answers to gold items (records of known "
        "label served among the others, review.gold_share) and lower the agreement bar to match: half the error "
        "goes to the accuracy bounds, split evenly with the overlap bound if that is on too (docs/contract.md, "
        "Reviewer accuracy measured on gold items). Sound only if gold items are at least as hard as stream items.",
    )
    gold_bound: Literal["accuracy", "weighted", "conditional", "conditional-weighted"] = Field(
        "weighted",
        description="With reviewer_accuracy_from_gold, what gold items measure: 'accuracy' (how often answers are "
        "right, pooled over the reviewers; assumes reviewers err independently of the model and gold answers spread "
        "over the reviewers as the stream's answers do), 'weighted' (the same per reviewer, from their own gold "
        "answers, each answer held to its reviewer's bound: sound however gold is spread, e.g. a reviewer out of "
        "gold items; slower when spread is even; the default; docs/contract.md, Stream-share-weighted gold bound) or "
        "'conditional' (how often answers agree with the "
        "model's proposal when it is right and when it is wrong; sound against reviewers who err with the model or "
        "accept its proposal, if they treat gold items as stream items; its bar is used alone: no overlap bound, "
        "reviewer_accuracy 1; docs/contract.md, Reviewers who err with the model) or 'conditional-weighted' (the "
        "same per reviewer, from their own gold answers, each answer held to its reviewer's conditional bar: sound "
        "however gold is spread, e.g. a reviewer out of gold items; docs/contract.md, Conditional gold bound per "
        "reviewer).",
    )
    version_change_reset: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Open a new calibration generation when a new model version labels more than this share of the "
        "recent would-be auto-labels differently from its predecessor, or from the version in force when the "
        "generation opened, beyond the evidence's margin above the target (label-free; None: off). The learner "
        "checks at publish time on the records it learned (docs/contract.md).",
    )
    version_recheck: bool = Field(
        True,
        description="Re-test each class's threshold in force against every new model version on the generation's "
        "answered records (the same bets as the proof, alpha / (2.11 (k+1) ln^2(k+1)) for the k-th); a threshold the "
        "version does not validate is withdrawn until one does (docs/contract.md, The recheck). False: off.",
    )
    version_recheck_window: int = Field(
        20_000, ge=1, description="How many of the generation's newest answered records the recheck re-scores."
    )
    version_recheck_patience: int = Field(
        40,
        ge=0,
        description="For its first this-many rechecks of a generation, a validated class waits (no auto-labels) while "
        "another class is proven but not validated, so that every answer counts fully for the recheck (only "
        "withholds; docs/contract.md, The recheck). 0: no waiting.",
    )
    version_recheck_skip_hopeless: bool = Field(
        True,
        description="Skip, without spending the recheck's error, a class's test that could not validate its proven "
        "threshold even if every answer in its region agreed (a label-free bound), so that later tests keep a lower "
        "bar (changes no test's outcome; docs/contract.md, The recheck). False: every test is run and spent.",
    )
    version_recheck_starts: tuple[Annotated[float, Field(ge=0, lt=1)], ...] = Field(
        (0.0, 0.6, 0.65, 0.7, 0.9),
        min_length=1,
        description="Thresholds the recheck's scans start from, upwards (the error is split over them; "
        "docs/contract.md, The recheck).",
    )
    pause_alpha: float | None = Field(
        0.01,
        gt=0,
        lt=1,
        description="Pause a class's auto-labels while its recent answers contradict the calibration at this level "
        "(a second, quicker calibration check; only withholds; docs/contract.md). None: no pause.",
    )
    scan_starts: tuple[Annotated[float, Field(gt=0, lt=1)], ...] = Field(
        (0.99, 0.9, 0.7),
        min_length=1,
        description="Thresholds the calibration's scans start from, downwards (the error is split over them).",
    )
    drift_reset_evidence: bool = Field(True, description="On drift, forget the calibration evidence.")
    drift_audit_share: float = Field(0.1, ge=0, le=1, description="Audit share for a while after a drift.")
    drift_alert_records: int = Field(1000, ge=0, description="How many records that while lasts.")
    uncertainty_threshold: float = Field(
        0.9, gt=0, le=1, description="fixed_uncertainty: ask below this top probability."
    )
    uncertainty_step: float = Field(0.01, gt=0, lt=1, description="variable uncertainty strategies: threshold step.")
    uncertainty_randomization: float = Field(
        1.0, gt=0, description="randomized_variable_uncertainty: std of the threshold's random factor."
    )
    split_random_share: float = Field(0.2, ge=0, le=1, description="split: share of records sampled at random.")
    entropy_discount: float = Field(3.0, ge=0, description="river_entropy: exponent of the normalized entropy.")
    committee: list[ModelName] = Field(
        default_factory=lambda: ["gaussian_nb", "hoeffding_adaptive_tree"],
        min_length=1,
        description="query_by_committee: the committee's models.",
    )
    seed: int = 7


class LabelerSettings(_Section):
    group_id: str = "labelstream-labeler"
    transactional_id: str = Field(
        "labelstream-labeler", description="Prefix; each labeler instance appends its own suffix."
    )
    batch_size: int = Field(
        2000,
        ge=1,
        le=100_000,
        description="Most records in one transaction (fewer when commit_interval_ms is up first).",
    )
    batch_max_wait_ms: int = Field(50, ge=1)
    relabel_batch: int = Field(5000, ge=1, description="Deferred records re-scored per new model version.")
    transaction_timeout_ms: int = Field(
        30_000, ge=1000, description="How long a dead labeler's open transaction can block readers."
    )
    metrics_port: int = Field(9400, ge=0, le=65535, description="0 picks a free port.")
    commit_interval_ms: int = Field(
        100,
        ge=1,
        description="A transaction commits once it has routed what was waiting when it began (what "
        "arrives meanwhile goes into the next one), when batch_size records are in, or when this long has passed "
        "since its first record, whichever comes first; fetches are sized to what can be routed in this time.",
    )
    min_transaction_gap_ms: int = Field(
        0,
        ge=0,
        description="A transaction begins at least this long after the one before began (0: at once). "
        "Back to back, a labeler at 1k records/s commits ~200 small transactions a second, whose markers cost the "
        "broker CPU; 10 ms caps them at 100 a second and saved ~0.1 core in the labeler and as much in the broker, "
        "at no lower p99 and a p50 1-4 ms higher (BENCHMARKS.md): a setting for a machine short of CPU.",
    )
    dead_letter_inline_bytes: int = Field(
        512 * 1024,
        ge=0,
        description="Dead letters carry the original value up to this size; a larger one goes by "
        "reference (topic, partition, offset, size, SHA-256, its first bytes), so it always fits the DLQ topic.",
    )
    trace_file: str = Field(
        "",
        description="Append one JSON line per committed transaction to this file: its records, how long they had "
        "waited when it began, and where its time went (labeler/trace.py). For diagnosing latency; empty: off.",
    )
    dedupe_window: int = Field(
        100_000,
        ge=0,
        description="A record whose id is among the last this many ids the labeler routed (at another "
        "offset) is dead-lettered as duplicate_id instead of getting a second outcome; 0 turns it off (docs/dedupe.md).",
    )


class LearnerSettings(_Section):
    app_id: str = "labelstream-learner"
    publish_every_corrections: int = Field(
        50, ge=1, description="Publish a model version after this many corrections..."
    )
    publish_every_seconds: float = Field(0.5, gt=0, description="...or this long after the first unpublished one.")
    snapshot_hmac_key: SecretStr = SecretStr("dev-only-insecure-key")
    metrics_port: int = Field(9401, ge=0, le=65535)
    keep_versions: int = Field(20, ge=1, description="Model versions kept in Redis for rollback.")


class LabelSetSettings(_Section):
    """The label set: the only labels a reviewer may give and the learner learns.

    It is the union of ``classes``, the lines of ``taxonomy_file`` and the labels an
    admin added with ``labelstream labels add NAME`` (kept in Redis). While all three
    are empty the set is open (any label is learned: simulations, the demo).
    """

    classes: list[str] | None = Field(None, description="The labels, in the order of their hotkeys (1-9).")
    taxonomy_file: FilePath | None = Field(None, description="A text file, one label per line (# comments).")


class ReviewSettings(_Section):
    """The review service (``labelstream run review``): queue, leases, overlap, web page and API."""

    port: int = Field(
        9402,
        ge=0,
        le=65535,
        description="Web page and API, and /metrics and probes unless ops_port is set (0 picks a free port).",
    )
    ops_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Serve /metrics, /healthz, /readyz and /livez on this port (for Prometheus and the orchestrator) "
        "and answer them 404 on the page's port; unset: all on port. Set it wherever reviewers can reach the page "
        "port: /metrics and the probes' detail show when a gold answer becomes final (docs/review.md, Tells left). "
        "0 picks a free port.",
    )
    host: str = Field("0.0.0.0", description="Interface the service listens on.")
    group_id: str = Field("labelstream-review", description="Consumer group of the review topic.")
    instance_id: str | None = Field(
        None,
        description="Static member id of this service in group_id (a restart or a broker restart takes its "
        "partitions back at once); unique per running service. Unset: the group id, host name and port; '' for none.",
    )
    ingest_stall_seconds: float = Field(
        120.0,
        ge=0,
        description="Requests wait on the review topic and the ingest takes none for this long: it joins "
        "the group again with a new consumer (0: never).",
    )
    lease_seconds: float = Field(
        120.0, ge=5, le=86_400, description="A claimed item returns to the queue after this without a heartbeat."
    )
    undo_seconds: float = Field(30.0, ge=0, le=3600, description="A reviewer may undo their last answer for this long.")
    correct_seconds: float = Field(
        900.0,
        ge=0,
        le=7 * 24 * 3600,
        description="A reviewer may give any of their recent answers another label for this long (0: off).",
    )
    overlap_share: float = Field(0.0, ge=0, le=1, description="Share of items answered by overlap_k reviewers.")
    overlap_k: int = Field(2, ge=2, le=10, description="Reviewers per overlap item.")
    gold_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of a reviewer's answers spent on gold items (records of known label served "
        "among the others, indistinguishably, each in place of a plain item: none with an overlap or expert badge or "
        "skip notes): they measure reviewer accuracy (policy.reviewer_accuracy_from_gold).",
    )
    queue_counter_exact_below: int = Field(
        10,
        ge=0,
        le=1_000_000,
        description="Reviewers (the page, GET /api/v1/stats, the terminal reviewer) see the "
        "waiting count exactly below this, and rounded down to a multiple of queue_counter_step from it on ('40+'); a "
        "gold item is served only where a real claim would not change that figure, so no claim shows as gold on the "
        "counter (docs/review.md, Gold items). A multiple of queue_counter_step; 0: rounded from 1 on. The lead's "
        "overview and 'labelstream review status' stay exact.",
    )
    queue_counter_step: int = Field(
        10,
        ge=2,
        le=1_000_000,
        description="The step the waiting count is rounded to for reviewers at or above "
        "queue_counter_exact_below. A reviewer alone on a quiet stream can count how many gold items came between two "
        "steps, never which claims: a larger step hides more, and gold skips one claim in a step (the one that would "
        "lower the figure).",
    )
    gold_hold_below: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Hold a reviewer off new items when their gold accuracy over the last 7 days is, "
        "with 95 % confidence, below this (the high end of its Wilson interval is; at least gold_hold_min_answers "
        "gold answers); the review lead clears a hold with: labelstream review gold clear NAME. 0: never. With "
        "policy.reviewer_accuracy_from_gold the learner drops a held reviewer's gold answers from its bound "
        "(docs/contract.md, section 5, Holds); not with policy.gold_bound 'conditional', which cannot drop them "
        "('weighted' and 'conditional-weighted' need not: a held reviewer's gold bounds only their own answers).",
    )
    gold_hold_min_answers: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Gold answers over the last 7 days a reviewer needs before a hold "
        "(gold_hold_below) can come: a few slips on a handful of gold items say little.",
    )
    gold_proposals: Literal["model", "uploaded"] = Field(
        "model",
        description="What a gold item is shown with: 'model', the latest model version's proposal for its "
        "record, as a real item shows the model's (the uploaded one before the first version, or if the model cannot "
        "score it); 'uploaded', the uploaded proposal. The conditional gold bound needs the model's own proposals.",
    )
    adjudication: bool = Field(True, description="An overlap item whose answers disagree goes to one more reviewer.")
    adjudication_timeout_seconds: float = Field(
        900.0,
        ge=0,
        description="An item no further reviewer answered within this is consolidated from the answers it "
        "has, flagged adjudication_timed_out (e.g. only overlap_k reviewers exist); 0: wait for one however long.",
    )
    expert_wait_seconds: float = Field(
        3600.0,
        ge=0,
        description="A record a reviewer was not sure of that no expert took within this goes back to "
        "the other reviewers (never to whoever was not sure), flagged 'no expert took it'; 0: wait for an expert forever.",
    )
    consolidation: Literal["majority", "dawid_skene"] = Field(
        "majority", description="How an overlap item's answers become the one label the learner learns."
    )
    guidelines_file: FilePath | None = Field(None, description="Markdown shown beside each record.")
    done_keep_seconds: int = Field(
        7 * 24 * 3600, gt=0, description="How long an answered item is remembered (never served again, undo, replays)."
    )
    answered_keep_seconds: int = Field(
        7 * 24 * 3600, gt=0, description="An answered item's features stay joinable by the learner at least this long."
    )
    max_note_length: int = Field(2000, ge=0, le=100_000)

    @model_validator(mode="after")
    def _counter_steps_from_its_threshold(self) -> ReviewSettings:
        if self.queue_counter_exact_below % self.queue_counter_step:
            raise ValueError(
                f"review.queue_counter_exact_below ({self.queue_counter_exact_below}) must be a multiple of "
                f"review.queue_counter_step ({self.queue_counter_step}): the first rounded figure is the threshold itself"
            )
        if self.ops_port is not None and self.ops_port == self.port and self.port != 0:
            raise ValueError(
                f"review.ops_port ({self.ops_port}) must differ from review.port: it keeps /metrics and the "
                "probes off the reviewers' port (leave it unset to serve them on review.port)"
            )
        return self


class DriftSettings(_Section):
    """ADWIN drift detectors and the reaction to a drift (each step switchable)."""

    enabled: bool = True
    error: bool = Field(True, description="Watch the model's error on reviewed records.")
    confidence: bool = Field(True, description="Watch the mean confidence of predictions.")
    class_share: bool = Field(True, description="Watch the share of each predicted class.")
    features: bool = Field(False, description="Watch each numeric feature's mean (one detector per feature).")
    class_share_of: Literal["predictions", "auto_labels"] = Field(
        "auto_labels", description="Class shares among auto-labels (moves with the policy too) or all predictions."
    )
    delta: float = Field(0.002, gt=0, lt=1, description="ADWIN delta of the error detector.")
    prediction_delta: float = Field(0.0002, gt=0, lt=1, description="ADWIN delta of the per-record detectors.")
    clock: int = Field(16, ge=1, description="ADWIN checks for a change every `clock` values.")
    grace_period: int = Field(30, ge=1)
    warmup: int = Field(100, ge=0, description="No error-detector detection before this many answers (per class).")
    prediction_warmup: int = Field(1000, ge=0, description="No per-record detection before this many records.")
    max_classes: int = Field(20, ge=1)
    max_features: int = Field(50, ge=1)
    notify_policy_on: tuple[str, ...] = Field(
        ("error", "confidence"), description="Detectors (or families) whose drifts call policy.on_drift (reset, audit)."
    )
    challenger: bool = Field(True, description="Train a fresh model on recent answers; swap it in when it wins.")
    challenger_on: tuple[str, ...] = Field(("error",), description="Detectors (or families) that start a challenger.")
    challenger_window: int = Field(1000, ge=1, description="Latest labeled examples kept for a challenger.")
    challenger_train_window: int = Field(200, ge=0, description="Of which the newest train it at its start.")
    challenger_eval_window: int = Field(200, ge=1, description="Latest answers its accuracy is compared on.")
    challenger_min_evaluations: int = Field(50, ge=1)
    challenger_max_evaluations: int = Field(2000, ge=1, description="Dropped if it has not won by then.")
    challenger_margin: float = Field(
        0.03,
        ge=0,
        le=1,
        description="Accuracy it must win by (a swap resets the calibration: not on noise; docs/contract.md).",
    )


class WeakSettings(_Section):
    """Weak supervision: labeling functions and the online label model that learns how far to trust them."""

    functions: list[str] = Field(
        default_factory=list,
        description='Labeling functions by import path: "pkg.module:name" (one LF or a list) or "pkg.module" '
        "(every @labeling_function declared there). Empty: no weak supervision.",
    )
    combine: Literal["label_model", "majority"] = Field(
        "label_model", description="label_model (learned LF accuracies, with the model) or majority (plain vote)."
    )
    call_timeout_ms: float = Field(50.0, gt=0, description="A single LF call slower than this counts as abstaining.")
    batch_timeout_ms: float | None = Field(
        1000.0,
        gt=0,
        description="Longest wait for the LFs on one batch; past it the LF is suspended (backing off). "
        "None: run inline, no deadline.",
    )
    prior_accuracy: float = Field(0.7, gt=0, lt=1, description="Accuracy assumed of an LF before any answer.")
    prior_strength: float = Field(5.0, gt=0, description="Weight of that assumption, in votes.")
    class_strength: float = Field(
        10.0, gt=0, description="Weight, in votes, of an LF's overall accuracy in its per-class one."
    )
    model_weight: float = Field(
        1.0, ge=0, description="Weight of the model's probabilities against the votes (at start)."
    )
    learn_weights: bool = Field(
        True, description="Learn each LF's and the model's weight in the combination from the answers (else fixed)."
    )
    halflife_answers: float | None = Field(
        1000.0, gt=0, description="Answers after which an answer weighs half in the LF accuracies (None: never forget)."
    )


class TextSettings(_Section):
    """Records' ``text``: how it becomes model input (records without text are unaffected)."""

    featurizer: Literal["tfidf", "encoder", "none"] = Field(
        "tfidf",
        description="tfidf (online TF-IDF, no extra dependency), encoder (pre-trained sentence encoder, "
        "pip install 'labelstream[text]') or none (text ignored).",
    )
    hash_buckets: int = Field(1 << 14, gt=0, description="tfidf: hashed columns words and word pairs share.")
    ngram_max: int = Field(2, ge=1, le=2, description="tfidf: 1 words, 2 words and adjacent word pairs.")
    encoder_model_path: str | None = Field(None, description="encoder: an ONNX file instead of the installed one.")
    encoder_tokenizer_path: str | None = Field(None, description="encoder: its tokenizer.json.")
    encoder_max_tokens: int = Field(128, ge=8, le=512, description="encoder: longer texts are cut to this many tokens.")
    encoder_batch_size: int = Field(64, ge=1, description="encoder: texts per ONNX call.")
    encoder_threads: int = Field(1, ge=1, description="encoder: onnxruntime threads per process.")


class LabelErrorSettings(_Section):
    """Label-error detection on human answers (docs/label-errors.md): online confident learning.

    An answer that a confident model contradicts is not learned at once: the
    record goes to a second reviewer (reason ``disagreement``) and the model
    learns the consolidated label. Needs the review service and two reviewers or more.
    """

    enabled: bool = Field(False, description="Flag contradicted answers and send them to a second reviewer.")
    min_confidence: float = Field(
        0.8,
        ge=0,
        le=1,
        description="The model's probability of the class it suggests must reach this (and its "
        "class's confident-learning threshold).",
    )
    min_answers: int = Field(30, ge=1, description="Answers of a class before its threshold is trusted.")
    window: int = Field(1000, ge=1, description="Answers per class the running thresholds average over.")


class SelfTrainingSettings(_Section):
    """Self-training (labelstream.core.self_training): the model also learns its surest auto-labels.

    Off by default: on the benchmark it did not pay (BENCHMARKS.md, "Labeling methods"). In the services the
    labeler keeps the sure auto-labels' features in Redis and the learner learns them (docs/self-training.md).
    """

    enabled: bool = Field(False, description="Learn auto-labels scored at least min_confidence, with weight `weight`.")
    min_confidence: float = Field(
        0.99,
        ge=0,
        le=1,
        description="The auto-label's score must reach this (stricter than the calibrated threshold that let it out).",
    )
    weight: float = Field(0.3, gt=0, le=1, description="Sample weight of a self-taught example (a human answer: 1).")


class ImbalanceSettings(_Section):
    """Class imbalance (labelstream.core.imbalance): balanced learning weights and the class-mix monitor."""

    balanced_weights: bool = Field(
        False,
        description="Weigh each human answer by its class's online inverse "
        "frequency, n / (k * n_class), capped at max_weight.",
    )
    max_weight: float = Field(10.0, ge=1, description="Cap of a class's weight.")
    rare_budget_share: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of the review budget kept for records "
        "predicted as a rare class that the policy would defer (reason rare_class); the "
        "policy's budget shrinks by as much. 0: none.",
    )
    rare_below: float = Field(
        0.1,
        gt=0,
        le=1,
        description="A class is rare while its share of the recent answers (class_mix_window) is below this.",
    )
    class_mix_window: int = Field(
        1000,
        ge=1,
        description="Auto-labels and answers the class-mix monitor compares "
        "(labelstream_auto_label_class_share, labelstream_class_mix_distance).",
    )


class CommitteeSettings(_Section):
    """A committee of models beside the main one (labelstream.core.committee): its disagreement is a review reason."""

    models: list[ModelName] = Field(
        default_factory=list,
        description="The members (other models than model.name, so their mistakes differ). Empty: no committee.",
    )
    require_agreement: bool = Field(
        True,
        description="An auto-label needs every member to predict the same label; "
        "else the record is reviewed with reason disagreement (within the budget).",
    )


class MetricsSettings(_Section):
    """Prometheus metrics: label caps and windows (each service has its own ``metrics_port``)."""

    max_class_labels: int = Field(50, ge=1, description="Distinct class labels exported; the rest become __other__.")
    coverage_window_records: int = Field(1000, ge=1, description="Records in the sliding window of the coverage ratio.")
    latency_samples_per_batch: int = Field(100, ge=1, description="Record latencies observed per micro-batch, at most.")


class ProduceSettings(_Section):
    """``labelstream produce``: the declared type of each feature column (``--schema FILE`` overrides it)."""

    columns: dict[str, Literal["number", "integer", "string", "boolean"]] = Field(
        default_factory=dict,
        description="Column name -> number | integer | string | boolean. An undeclared column keeps the type of its "
        "first value; a value that does not fit is an invalid row.",
    )


class Settings(BaseSettings):
    """All labelstream settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_parse_none_str="null",  # LABELSTREAM_WEAK__HALFLIFE_ANSWERS=null: None over a default (settings_to_env)
        extra="forbid",
        frozen=True,
    )

    environment: Literal["development", "production"] = "development"
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    topics: TopicSettings = TopicSettings()
    limits: LimitSettings = LimitSettings()
    model: ModelSettings = ModelSettings()
    policy: PolicySettings = PolicySettings()
    labeler: LabelerSettings = LabelerSettings()
    learner: LearnerSettings = LearnerSettings()
    metrics: MetricsSettings = MetricsSettings()
    drift: DriftSettings = DriftSettings()
    labels: LabelSetSettings = LabelSetSettings()
    review: ReviewSettings = ReviewSettings()
    weak: WeakSettings = WeakSettings()
    produce: ProduceSettings = ProduceSettings()
    text: TextSettings = TextSettings()
    label_errors: LabelErrorSettings = LabelErrorSettings()
    self_training: SelfTrainingSettings = SelfTrainingSettings()
    imbalance: ImbalanceSettings = ImbalanceSettings()
    committee: CommitteeSettings = CommitteeSettings()

    @model_validator(mode="after")
    def _no_dev_key_in_production(self) -> Settings:
        if (
            self.environment == "production"
            and self.learner.snapshot_hmac_key.get_secret_value() == "dev-only-insecure-key"
        ):
            raise ValueError("learner.snapshot_hmac_key must be set (not the development default) in production")
        return self

    @model_validator(mode="after")
    def _holds_keep_the_gold_bound_sound(self) -> Settings:
        policy = self.policy
        if (
            self.review.gold_hold_below > 0
            and policy.reviewer_accuracy_from_gold
            and policy.gold_bound == "conditional"
        ):
            raise ValueError(
                "review.gold_hold_below needs policy.gold_bound 'accuracy' or 'weighted' with "
                "policy.reviewer_accuracy_from_gold: the "
                "conditional gold bound cannot drop a held reviewer's gold answers, which would still count while their "
                "records stop and can make the bound optimistic (docs/contract.md, section 5, Holds); set one of them "
                "to its default"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # toml_file is set by load_settings(config_file=...) on a subclass.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raise :class:`ConfigError` naming the bad setting.

    ``config_file`` (TOML) defaults to ``$LABELSTREAM_CONFIG`` when set;
    ``overrides`` (section name -> dict) win over everything else.
    """
    path = config_file or os.environ.get(CONFIG_FILE_ENV)
    settings_cls: type[Settings] = Settings
    if path:
        path = Path(path)
        if not path.is_file():
            problem = "is a directory, not a TOML file" if path.is_dir() else "does not exist"
            raise ConfigError(f"config file {path} {problem} (set by --config or {CONFIG_FILE_ENV})")
        try:  # read here first: pydantic-settings' own error names neither the file nor the fix
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"config file {path} is not valid TOML ({exc}); fix it, or leave out --config / {CONFIG_FILE_ENV}"
            ) from exc
        settings_cls = type("Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}})
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    except ValueError as exc:  # unparsable JSON in an environment variable
        raise ConfigError(_describe_unparsable(exc)) from exc


_SECRET_WORDS = ("password", "key", "secret", "token")


def _describe(exc: ValidationError) -> str:
    """One line per error: the dotted setting, its env var and pydantic's reason."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        env_name = ENV_PREFIX + "__".join(str(part).upper() for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        secret = any(word in loc for word in _SECRET_WORDS)
        shown = not secret and error["type"] != "missing" and not isinstance(error["input"], dict)
        got = f" (got {error['input']!r})" if shown else ""
        where = f"setting {loc} ({env_name})" if loc else "settings"
        if error["type"] == "extra_forbidden":  # pydantic's "Extra inputs are not permitted"
            lines.append(f"unknown {where}; check its spelling (README.md, Settings)")
            continue
        lines.append(f"invalid {where}: {message}{got}")
    return "\n".join(lines)


def _describe_unparsable(exc: ValueError) -> str:
    """The environment variable behind pydantic-settings' "error parsing value for field ...", and how to write it."""
    field = re.search(r'field "(\w+)"', str(exc))
    if field is None:
        return f"invalid settings: {exc}"
    section = ENV_PREFIX + field.group(1).upper()
    for name in sorted(
        name for name in os.environ if name.upper() == section or name.upper().startswith(section + "__")
    ):
        value = os.environ[name]
        try:
            json.loads(value)
        except ValueError:
            got = "" if any(word in name.lower() for word in _SECRET_WORDS) else f" (got {value!r})"
            if name.upper() == section:
                return f"{name} is not valid JSON{got}; write the section as a JSON object, or set each setting as {section}__NAME"
            return f'{name} is not valid JSON{got}; write a list as JSON, e.g. \'["a", "b"]\''
    return f"invalid settings: {exc}; check the {section}* environment variables"


def namespaced(
    settings: Settings, namespace: str, partitions: int | None = None, **sections: dict[str, Any]
) -> Settings:
    """A copy of ``settings`` whose topics, consumer groups and Redis keys all start with ``namespace``.

    Runs that must not see each other's data (tests, demos, benchmarks) each
    take their own namespace. ``sections`` override fields, e.g.
    ``policy={"name": "threshold"}``.

    >>> s = namespaced(load_settings(), "demo1")
    >>> s.topics.records, s.redis.key_prefix, s.labeler.group_id
    ('demo1.records', 'demo1', 'demo1-labeler')
    """
    topics = settings.topics.model_copy(
        update={role: f"{namespace}.{name}" for role, name in TopicSettings().data_topics().items()}
        | ({"partitions": partitions} if partitions is not None else {})
    )
    update: dict[str, Any] = {
        "topics": topics,
        "redis": settings.redis.model_copy(update={"key_prefix": namespace}),
        "labeler": settings.labeler.model_copy(
            update={"group_id": f"{namespace}-labeler", "transactional_id": f"{namespace}-labeler"}
        ),
        "learner": settings.learner.model_copy(update={"app_id": f"{namespace}-learner"}),
        "review": settings.review.model_copy(update={"group_id": f"{namespace}-review"}),
    }
    for name, values in sections.items():
        update[name] = (update.get(name) or getattr(settings, name)).model_copy(update=values)
    return settings.model_copy(update=update)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process (secrets included)."""
    import json

    env: dict[str, str] = {}
    for section_name, section in settings:
        if not isinstance(section, BaseModel):
            env[f"{ENV_PREFIX}{section_name.upper()}"] = str(section)
            continue
        dumped = section.model_dump(mode="json")
        for field_name, raw in section:
            value = raw.get_secret_value() if isinstance(raw, SecretStr) else dumped[field_name]
            if value is None:
                if type(section).model_fields[field_name].default is not None:
                    env[f"{ENV_PREFIX}{section_name.upper()}__{field_name.upper()}"] = "null"  # None over a default
                continue
            name = f"{ENV_PREFIX}{section_name.upper()}__{field_name.upper()}"
            env[name] = value if isinstance(value, str) else json.dumps(value)
    return env
