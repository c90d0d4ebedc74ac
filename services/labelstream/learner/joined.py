"""A stored record as the learner's model and review requests take it (joined from Redis by id)."""

from __future__ import annotations

from typing import Any

from labelstream.core.engine import LabelingEngine
from labelstream.core.schemas import Record
from labelstream.store.records import StoredRecord


def record_of(stored: StoredRecord) -> Record | dict[str, Any]:
    """The stored record as the labeler routed it (its features alone when the record bytes were not kept)."""
    if stored.record_json is None:
        return stored.features
    try:
        return Record.model_validate_json(stored.record_json)
    except ValueError:
        return stored.features


def subject_of(engine: LabelingEngine, stored: StoredRecord) -> Record | dict[str, Any]:
    """What the engine learns from: with labeling functions or a text featurizer the whole record (LF votes,
    its text), else its features."""
    return record_of(stored) if engine.needs_record else stored.features
