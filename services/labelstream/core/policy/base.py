"""The policy contract: a prediction in, a decision out; evidence from humans back in.

A :class:`Policy` sees each record's :class:`Prediction` and returns a
:class:`Decision`: ``label`` (auto-accept the predicted label), ``review``
(ask a human, with a reason) or ``deferred`` (wait, with a reason). It may
learn from :class:`Evidence`: the true label of a reviewed record together
with what was predicted and how likely the record was to be reviewed.

Its state has two parts. *Learned* state (calibration) is built from evidence
in the learner and travels inside model snapshots (``learned_state`` /
``load_learned_state``); *routing* state (counters, budgets, random draws)
is local to each labeler and survives a model swap.

>>> p = Prediction.from_probabilities({"cat": 0.8, "dog": 0.2})
>>> p.label, p.confidence
('cat', 0.8)
>>> Prediction.from_probabilities({}).label is None
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from labelstream.core.budget import ReviewBudget

Outcome = Literal["label", "review", "deferred"]
Features = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the model says about one record."""

    probabilities: dict[str, float]
    label: str | None
    confidence: float

    @classmethod
    def from_probabilities(cls, probabilities: dict[str, float]) -> Prediction:
        """The arg-max label and its probability (``None`` and 0 when the model knows nothing)."""
        if not probabilities:
            return cls({}, None, 0.0)
        label = max(probabilities, key=probabilities.__getitem__)
        return cls(probabilities, label, probabilities[label])

    @property
    def probability_values(self) -> Sequence[float]:
        """The class probabilities in the order of :attr:`probabilities` (a :class:`RowPrediction`'s row, no dict made)."""
        return self.probabilities.values()  # type: ignore[return-value] - a view, read in order


class RowPrediction(Prediction):
    """A :class:`Prediction` of a row of class probabilities whose ``probabilities`` dict is made when first read.

    A compiled model's batch makes one a record (:meth:`~labelstream.core.compiled.CompiledLogistic.predictions`):
    an auto-label is published from its label and confidence, so its dict of class -> probability (a zip and a
    dict a record) is made only for the records whose probabilities are read (a review, a deferral, a strategy).
    Equal to the :class:`Prediction` of the same values; a copy or a pickle is that Prediction.

    >>> row = RowPrediction.make(["a", "b"], [0.25, 0.75], "b", 0.75)
    >>> row == Prediction({"a": 0.25, "b": 0.75}, "b", 0.75), list(row.probability_values), row.probabilities
    (True, [0.25, 0.75], {'a': 0.25, 'b': 0.75})
    """

    __slots__ = ("_classes", "probability_values")

    @classmethod
    def make(cls, classes: Sequence[str], row: Sequence[float], label: str | None, confidence: float) -> RowPrediction:
        """The prediction of ``row`` (a probability a class of ``classes``, in order; the classes distinct)."""
        prediction = _new(cls)
        _set_label(prediction, label)
        _set_confidence(prediction, confidence)
        _set_classes(prediction, classes)
        _set_values(prediction, row)
        return prediction

    @classmethod
    def make_many(
        cls, classes: Sequence[str], rows: Sequence[Sequence[float]], labels: Iterable[str | None], confidences: Iterable[float]
    ) -> list[RowPrediction]:
        """:meth:`make` of each row (with its label and confidence), the instances made first and then each field
        set for all of them by a map in C: no Python call a record (~1.5k instructions a record less).

        >>> RowPrediction.make_many(("a", "b"), [[0.25, 0.75], [0.5, 0.5]], ["b", "a"], [0.75, 0.5])
        [Prediction(probabilities={'a': 0.25, 'b': 0.75}, label='b', confidence=0.75), Prediction(probabilities={'a': 0.5, 'b': 0.5}, label='a', confidence=0.5)]
        """
        made = list(map(_new, repeat(cls, len(rows))))
        for setter, column in ((_set_label, labels), (_set_confidence, confidences), (_set_classes, repeat(classes)),
                               (_set_values, rows)):
            _drain(map(setter, made, column))
        return made

    @property
    def probabilities(self) -> dict[str, float]:  # type: ignore[override] - the field, made when first read
        try:
            return _get_probabilities(self)
        except AttributeError:
            made = dict(zip(self._classes, self.probability_values, strict=True))
            _set_probabilities(self, made)
            return made

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prediction):
            return NotImplemented
        return (self.probabilities, self.label, self.confidence) == (other.probabilities, other.label, other.confidence)

    __hash__ = None  # type: ignore[assignment] - as a Prediction's (its dict is not hashable)

    def __repr__(self) -> str:
        return repr(self._plain())

    def __reduce__(self) -> tuple[type, tuple]:
        return Prediction, (self.probabilities, self.label, self.confidence)

    def _plain(self) -> Prediction:
        return Prediction(self.probabilities, self.label, self.confidence)


_new = object.__new__
_drain = deque(maxlen=0).extend  # runs an iterator to its end, keeping nothing
_get_probabilities = Prediction.__dict__["probabilities"].__get__
_set_probabilities = Prediction.__dict__["probabilities"].__set__
_set_label = Prediction.__dict__["label"].__set__
_set_confidence = Prediction.__dict__["confidence"].__set__
_set_classes = RowPrediction.__dict__["_classes"].__set__
_set_values = RowPrediction.__dict__["probability_values"].__set__


@dataclass(frozen=True, slots=True)
class Decision:
    """A record's outcome and why.

    ``reason`` is ``"confident"`` for an auto label, a review reason
    (``uncertain``, ``audit``, ``cold_start``, ...) or a defer reason
    (``over_budget``, ...). ``inclusion_probability`` is the probability that
    this record was sent to review given its prediction (1 for a sure review),
    the weight that keeps estimates from reviewed records unbiased.

    ``context`` is what the policy needs to know, when the answer comes back,
    about how the record was routed (model version, drift generation,
    threshold in force, review probability and its parts, ...): plain JSON
    data that the services carry opaquely from the decision to the answer
    (stored with the record, on the review request) and hand back in
    :attr:`Evidence.context`. Only the policy that wrote it reads it.
    """

    outcome: Outcome
    reason: str
    inclusion_probability: float = 1.0
    priority: float = 0.0
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A human answer to a reviewed record, with what the model predicted for it.

    ``context`` is the routing :attr:`Decision.context` of the record, handed
    back unchanged (empty for records routed before it existed). ``reviewer``:
    who gave the answer (``None``: not known), for a gold bound that holds each
    answer to its own reviewer's bar.
    """

    prediction: Prediction
    true_label: str
    reason: str = "uncertain"
    inclusion_probability: float = 1.0
    timestamp: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    reviewer: str | None = None

    @property
    def correct(self) -> bool:
        return self.prediction.label == self.true_label


def review_within_budget(
    budget: ReviewBudget,
    reason: str,
    defer_reason: str = "over_budget",
    reserved: bool = False,
    priority: float = 1.0,
    context: dict[str, Any] | None = None,
) -> Decision:
    """A review if the budget has room, else a deferral; the inclusion probability is the gate's admission rate."""
    admission = budget.admission_rate(reserved)
    context = {} if context is None else context
    if budget.try_spend(reserved):
        return Decision("review", reason, admission, priority, context)
    return Decision("deferred", defer_reason, 1.0, priority, context)


class Policy(ABC):
    """Decides each record's outcome. Subclasses implement :meth:`decide` and :meth:`accepts`."""

    name: str = "policy"

    @abstractmethod
    def decide(self, prediction: Prediction, n_learned: int, x: Features | None = None) -> Decision:
        """The outcome for one record; ``n_learned`` is how many answers the model has learned,
        ``x`` the model input (for strategies that run models of their own)."""

    def decide_many(
        self, predictions: Sequence[Prediction], n_learned: int, xs: Sequence[Features] | None = None
    ) -> list[Decision]:
        """Outcomes for a batch, in stream order."""
        if xs is None:
            return [self.decide(prediction, n_learned) for prediction in predictions]
        return [self.decide(p, n_learned, x) for p, x in zip(predictions, xs, strict=True)]

    def accepts(self, prediction: Prediction) -> bool:
        """Whether this prediction would be auto-labeled now, with no side effect (deferred relabel)."""
        return False

    def accepts_deferred(
        self, prediction: Prediction, defer_reason: str, proposed_label: str | None,
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether a record deferred for ``defer_reason`` (when the model proposed ``proposed_label``, routed with
        :attr:`Decision.context` ``context``), re-scored now as ``prediction``, is auto-labeled (default: as a new
        record would be)."""
        return self.accepts(prediction)

    def held(self) -> tuple[str, ...]:
        """Classes whose threshold could be in force but waits for another class's (default: none)."""
        return ()

    def closing_generation(self) -> AbstractContextManager[None]:
        """Within it, the calibration generation is about to close on a challenger swap: the deferred records of the
        generation are relabeled one last time with the outgoing model version (default: nothing changes)."""
        return nullcontext()

    def learn(self, evidence: Evidence) -> None:
        """Take a human answer into account (default: nothing to learn)."""

    def observe(self, x: Features, label: str) -> None:
        """See a labeled model input (policies that train models of their own; default: nothing)."""

    def keep_answer(self, x: Features, evidence: Evidence) -> None:
        """An answered record's model input with its evidence (policies that re-test model versions; default: nothing)."""

    def recheck_version(self, model: Any, held_out: bool = False) -> Any:
        """A model version is about to be published: re-test what depends on it (default: nothing). ``held_out``:
        the answers kept for it are a held-out sample it never learned (a warm start)."""
        return None

    def kept_answers(self) -> dict[str, Any] | None:
        """The answers kept to re-test later versions (:meth:`keep_answer`), to carry over (default: none)."""
        return None

    def load_kept_answers(self, state: Mapping[str, Any] | None) -> int:
        """Adopt :meth:`kept_answers`; how many were adopted (default: none)."""
        return 0

    def learned_state(self) -> dict[str, Any]:
        """State built from evidence, shipped with model snapshots (default: none)."""
        return {}

    def load_learned_state(self, state: dict[str, Any]) -> None:
        """Adopt learned state from a model snapshot (default: nothing to adopt)."""

    def on_drift(self, detector: str) -> None:
        """React to a drift detected by ``detector`` (default: no reaction)."""

    def census_context(self) -> dict[str, Any]:
        """The :attr:`Decision.context` of a record every one of whose kind is answered (a fully labeled warm-up
        set: review probability 1 now), for :class:`Evidence` of answers no routing decided (default: none)."""
        return {}

    def on_model_version(self, version: int) -> None:
        """The model version that scores the next records (default: not needed)."""
