"""A stored record as the learner's model and review requests take it (joined from Redis by id), featurized once."""

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


class ModelInput:
    """A record's model input, featurized on first use and reused while the engine keeps the featurizer that
    made it (a rollback adopted meanwhile brings its own): an answer is featurized once, not per use.

    Examples
    --------
    >>> from labelstream.core.build import build_engine
    >>> from labelstream.settings import Settings
    >>> engine = build_engine(Settings())
    >>> x = ModelInput(engine, {"size": 2, "colour": "red"})
    >>> x.get(), x.get() is x.get(), x.of_features() is x.get()
    ({'size': 2.0, 'colour=red': 1.0}, True, True)
    """

    def __init__(self, engine: LabelingEngine, subject: Record | dict[str, Any]) -> None:
        self.engine = engine
        self.subject = subject
        self._x: dict[str, float] | None = None
        self._featurizer: Any = None

    def get(self) -> dict[str, float]:
        """The model input (:meth:`LabelingEngine.model_input`) under the engine's featurizer now."""
        if self._x is None or self._featurizer is not self.engine.featurizer:
            self._featurizer = self.engine.featurizer
            self._x = self.engine.model_input(self.subject)
        return self._x

    def has_text(self) -> bool:
        """Whether the input has text columns (a record with text, a text featurizer): they change once the
        featurizer learns the record (TF-IDF's document frequencies), so :meth:`LabelingEngine.learn` makes its own."""
        return isinstance(self.subject, Record) and bool(self.subject.text) and self.engine.featurizer.text is not None

    def of_features(self) -> dict[str, float]:
        """The input of the record's features alone (what the version check and a challenger take)."""
        if not self.has_text():
            return self.get()
        features = self.subject.features if isinstance(self.subject, Record) else self.subject
        return self.engine.featurizer.transform_one(features)
