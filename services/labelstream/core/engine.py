"""The labeling engine: featurize -> predict -> decide, and learn from human answers.

The same engine runs inside the labeler and learner services and in the
in-process simulator; it knows nothing of Kafka or Redis.

>>> from labelstream.core.policy import ThresholdPolicy
>>> from labelstream.core.schemas import Record
>>> policy = ThresholdPolicy(confidence_threshold=0.7, cold_start_records=0, cold_start_corrections=4)
>>> engine = LabelingEngine(OnlineModel(seed=1), policy)
>>> records = [Record(id=str(i), features={"x": float(i % 2 * 2 - 1)}) for i in range(6)]
>>> [routed.decision.reason for routed in engine.process(records[:2])]
['cold_start', 'cold_start']
>>> for _ in range(30):
...     engine.learn({"x": 1.0}, "pos"); engine.learn({"x": -1.0}, "neg")
>>> [(r.prediction.label, r.decision.outcome) for r in engine.process(records[2:4])]
[('neg', 'label'), ('pos', 'label')]

Deferred records are re-scored when the model changes; the policy says which it now accepts:

>>> relabel = engine.relabel(records[4:], ["over_budget"] * 2, ["neg", "pos"])
>>> [(record.id, prediction.label) for record, prediction in relabel.labeled], relabel.waiting
([('4', 'neg'), ('5', 'pos')], [])

With labeling functions (``weak``), their votes are combined with the model's
probabilities; a record an LF voted on carries the votes and ``method="weak"``:

>>> from labelstream.core.weak import LabelingFunction, WeakSupervision
>>> lf = LabelingFunction("x_positive", lambda record: "pos" if record.features["x"] > 0 else None)
>>> weak_engine = LabelingEngine(OnlineModel(seed=1), policy, weak=WeakSupervision.build([lf], batch_timeout=None))
>>> [(r.prediction.label, r.method, r.votes) for r in weak_engine.process(records[:2])]
[(None, 'auto', None), ('pos', 'weak', {'x_positive': 'pos'})]
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelstream.core.committee import Committee
from labelstream.core.constructor import slots_constructor
from labelstream.core.drift import Detection, DriftMonitor
from labelstream.core.featurizer import Featurizer, LazyInputs
from labelstream.core.imbalance import ClassMixMonitor, ClassWeights, RareClassReserve
from labelstream.core.label_errors import Flag, LabelErrorDetector
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Decision, Evidence, Policy, Prediction
from labelstream.core.policy.base import review_within_budget
from labelstream.core.schemas import Record
from labelstream.core.self_training import SelfTraining
from labelstream.core.weak import WeakSupervision
from labelstream.core.weak.applier import Votes

WEAK_STATE_KEY = "weak"
"""Key of the label model's learned state in a model version's ``policy_state`` (taken out before the policy sees it)."""
LABEL_ERRORS_STATE_KEY = "label_errors"
"""Key of the label-error detector's state in ``policy_state`` (the learner's; taken out like the label model's)."""
CLASS_WEIGHTS_STATE_KEY = "class_weights"
"""Key of the balanced class weights' answer counts in ``policy_state`` (taken out like the label model's)."""
COMMITTEE_STATE_KEY = "committee"
"""Key of the committee's members in ``policy_state`` (they learn in the learner, vote in the labelers)."""
ANSWERED_MIX_STATE_KEY = "answered_mix"
"""Key of the recent answers' labels in ``policy_state``: the labeler's class-mix monitor compares its auto-labels to them."""


@dataclass(frozen=True, slots=True)
class Routed:
    """One record with its prediction and the policy's decision."""

    record: Record
    prediction: Prediction
    decision: Decision
    votes: dict[str, str] | None = None
    """Labeling functions' votes (name -> label) when any voted; the prediction then combines them."""

    @property
    def method(self) -> str:
        """``weak`` when labeling functions voted on the record, else ``auto`` (the method of its auto-label)."""
        return "weak" if self.votes else "auto"


_timestamp_of = operator.attrgetter("timestamp")
_make_routed = slots_constructor(Routed)  # Routed(...) a record, at less than half the cost


@dataclass(slots=True)
class Relabel:
    """Deferred records re-scored: those now auto-labeled (with their prediction), and those still waiting."""

    labeled: list[tuple[Record, Prediction]] = field(default_factory=list)
    waiting: list[Record] = field(default_factory=list)


class LabelingEngine:
    """Ties a featurizer, an online model and a routing policy together.

    With a drift ``monitor``, :meth:`process` feeds it every prediction and
    :meth:`learn` every answer given with its evidence; the detections wait
    in :attr:`detections` until the caller takes them with :meth:`drain_detections`.
    With ``weak`` supervision, labeling functions vote on every record and
    the label model combines their votes with the model's probabilities;
    :meth:`learn` teaches it the LFs' accuracies. With a ``label_errors``
    detector, :meth:`check_answer` tells whether a confident model
    contradicts an answer (the learner then holds it for a second review).
    With ``class_weights``, each answer is learned with its class's balanced
    weight; with ``self_training``, :meth:`learn_auto` teaches the model its
    surest auto-labels; with ``class_mix``, auto-labels and answers feed the
    class-mix monitor (:mod:`labelstream.core.imbalance`); with a
    ``committee`` that requires agreement, an auto-label some member does not
    predict goes to review with reason ``disagreement``. With ``columnar`` (the default), a batch of the
    compiled default model is predicted from its records' features column by column
    (:mod:`labelstream.core.compiled_inputs`), the model inputs made only for the policy routes that use one.
    """

    def __init__(
        self,
        model: OnlineModel,
        policy: Policy,
        featurizer: Featurizer | None = None,
        model_version: int = 0,
        monitor: DriftMonitor | None = None,
        weak: WeakSupervision | None = None,
        label_errors: LabelErrorDetector | None = None,
        self_training: SelfTraining | None = None,
        class_weights: ClassWeights | None = None,
        class_mix: ClassMixMonitor | None = None,
        committee: Committee | None = None,
        rare_reserve: RareClassReserve | None = None,
        columnar: bool = True,
    ) -> None:
        self.model = model
        self.policy = policy
        self.featurizer = featurizer or Featurizer()
        self.model_version = model_version
        self.monitor = monitor
        self.weak = weak
        self.label_errors = label_errors
        self.self_training = self_training
        self.class_weights = class_weights
        self.class_mix = class_mix
        self.committee = committee
        self.rare_reserve = rare_reserve
        self.columnar = columnar
        self.detections: list[Detection] = []

    @property
    def model_version(self) -> int:
        """The version of the model that scores records now (the policy is told of every change)."""
        return self._model_version

    @model_version.setter
    def model_version(self, version: int) -> None:
        self._model_version = version
        self.policy.on_model_version(version)

    def predict(self, features_batch: Sequence[Mapping[str, float | int | str]]) -> list[Prediction]:
        """Predictions for a batch of feature mappings, in order."""
        return self._predict(self.featurizer.transform_many(features_batch))

    def _predict(self, xs: list[dict[str, float]]) -> list[Prediction]:
        return self.model.predict_many(xs)

    def takes_columns(self, n: int) -> bool:
        """Whether a batch of ``n`` records is predicted from its columns (:class:`~labelstream.core.columnar.ColumnarBatch`): without
        labeling functions, by the compiled model (else a ColumnarBatch is read record by record: the same
        results, more work)."""
        return self.columnar and self.weak is None and self.model.compiled_for(n) is not None

    @property
    def needs_record(self) -> bool:
        """Whether :meth:`learn` needs the whole record, not its features alone (labeling functions, text)."""
        return self.weak is not None or self.featurizer.text is not None

    def process(self, records: Sequence[Record]) -> list[Routed]:
        """Predict and route a batch of records, in stream order."""
        votes: list[dict[str, str] | None] = [None] * len(records)
        columnar = self._predict_columnar(records) if self.columnar and self.weak is None else None
        if columnar is not None:
            xs, predictions = columnar
        else:
            xs = self.featurizer.transform_records(records)
            if self.weak is None:
                predictions = self._predict(xs)
            else:
                predictions, votes = self._predict_weak(records, xs)
        decisions = self.policy.decide_many(predictions, self.model.n_learned, xs)
        if self.committee is not None and self.committee.require_agreement:
            decisions = self._committee_check(predictions, decisions, xs)
        if self.rare_reserve is not None:
            decisions = self._rare_check(predictions, decisions)
        if self.monitor is not None:
            self._monitor_batch(records, predictions, decisions)
        if self.class_mix is not None:
            for prediction, decision in zip(predictions, decisions, strict=True):
                if decision.outcome == "label":
                    self.class_mix.observe_auto(prediction.label)
        if isinstance(records, _columnar.ColumnarBatch):  # a Routed whose record is made when read
            return records.routed(predictions, decisions, votes)
        make = _make_routed
        return [make(r, p, d, v) for r, p, d, v in zip(records, predictions, decisions, votes, strict=True)]

    def _predict_columnar(self, records: Sequence[Record]) -> tuple[Sequence[dict[str, float]], list[Prediction]] | None:
        """The compiled model's predictions from the records' features directly, and their model inputs made
        only when asked for; ``None`` where that path does not apply (a record with text under a text
        featurizer, another model, a small batch).

        The same predictions and inputs as featurize -> predict (tests/core/test_engine.py compares them).
        """
        featurizer = self.featurizer
        columns = isinstance(records, _columnar.ColumnarBatch)
        if featurizer.text is not None and (records.any_text() if columns else any(record.text for record in records)):
            return None
        compiled = self.model.compiled_for(len(records))
        if compiled is None:
            return None
        if columns:  # the matrix from the batch's columns, no feature mapping a record (labelstream.core.columnar)
            inputs = compiled.inputs(featurizer.categorical_encoding, featurizer.hash_buckets)
            return LazyInputs(featurizer, records.features()), compiled.predictions(compiled.probabilities_of(records.matrix(inputs)))
        batch = [record.features for record in records]
        predictions = compiled.predict_features(batch, featurizer.categorical_encoding, featurizer.hash_buckets)
        return LazyInputs(featurizer, batch), predictions

    def _committee_check(
        self, predictions: list[Prediction], decisions: list[Decision], xs: list[dict[str, float]]
    ) -> list[Decision]:
        """Auto-labels the committee does not all predict: a review (reason ``disagreement``) within the budget.

        The decision's context still says ``outcome: label``: the contract keeps such answers out of its
        calibration (a committee-selected sample is not the design it knows)."""
        budget = getattr(self.policy, "budget", None)
        out = list(decisions)
        for i, (prediction, decision) in enumerate(zip(predictions, decisions, strict=True)):
            if decision.outcome != "label" or self.committee.agrees(xs[i], prediction.label):
                continue
            if budget is None:
                out[i] = Decision("review", "disagreement", 1.0, decision.priority, decision.context)
            else:
                out[i] = review_within_budget(budget, "disagreement", "disagreement", priority=decision.priority,
                                              context=decision.context)
        return out

    def _rare_check(self, predictions: list[Prediction], decisions: list[Decision]) -> list[Decision]:
        """Deferred records predicted as a rare class: reviewed from the rare-class reserve while it has room."""
        reserve = self.rare_reserve
        answered = self.class_mix.shares() if self.class_mix is not None else {}
        out = []
        for prediction, decision in zip(predictions, decisions, strict=True):
            reserve.budget.count_record()
            out.append(reserve.review(prediction, decision, answered) or decision)
        return out

    def score(self, records: Sequence[Record]) -> list[Prediction]:
        """Predictions for records (their text and the LFs' votes included) without routing them or counting them."""
        xs = self.featurizer.transform_records(records)
        return self._predict(xs) if self.weak is None else self._predict_weak(records, xs, new=False)[0]

    def _predict_weak(
        self, records: Sequence[Record], xs: list[dict[str, float]], new: bool = True
    ) -> tuple[list[Prediction], list[dict[str, str] | None]]:
        """Predictions combining the model with the LFs' votes, and each record's votes (``None``: none voted).

        ``new``: the records are new to the stream (their votes count in the LF analysis)."""
        weak = self.weak
        # the model first: when it raises, the batch is routed again record by record and the
        # LFs, not yet applied, vote (and are counted) once per record
        model_probabilities = self.model.predict_proba_many(xs)
        batch_votes = weak.apply(records, observe=new)
        probabilities = weak.combine(model_probabilities, batch_votes)
        votes = [weak.votes_of(v) or None for v in batch_votes]
        return [Prediction.from_probabilities(p) for p in probabilities], votes

    def learn(
        self,
        features: Mapping[str, float | int | str] | Record,
        label: str,
        evidence: Evidence | None = None,
        votes: Mapping[str, str] | None = None,
        x: dict[str, float] | None = None,
    ) -> None:
        """Learn a human answer; ``evidence`` (what was predicted at routing time) also feeds the policy.

        ``features`` may be the whole :class:`Record`: with labeling functions,
        the label model then learns their accuracies from this answer (from
        their ``votes`` at routing time when given, else they vote on the record now);
        its ``text`` is featurized (and TF-IDF learns its document frequencies).
        ``x``: its model input when the caller has it already (:meth:`model_input`), so
        that it is not featurized twice; ignored for a record with text under a text
        featurizer, whose input of the record changes as it learns the record.
        """
        record = features if isinstance(features, Record) else None
        if record is not None:
            features = record.features
        if record is not None and record.text and self.featurizer.text is not None:
            self.featurizer.learn_record(record)
            x = self.featurizer.transform_records([record])[0]
        elif x is None:
            x = self.featurizer.transform_one(features)
        if evidence is not None:
            self.learn_evidence(evidence, x)
        if self.weak is not None and (votes is not None or record is not None):
            # the model's view before it learns the answer: the label model weighs it against the votes
            self.weak.learn(self._votes_for(record, votes), label, self.model.predict_proba_one(x))
        self.policy.observe(x, label)
        if self.class_mix is not None:
            self.class_mix.observe_answer(label)
        if self.class_weights is None:
            weight = 1.0
            self.model.learn_one(x, label)
        else:
            self.class_weights.learn_one(label)
            weight = self.class_weights.weight(label)
            self.model.learn_one(x, label, weight)
        if self.committee is not None:
            self.committee.learn_one(x, label, weight)

    def learn_auto(self, routed: Sequence[Routed]) -> int:
        """Self-training: the model learns the auto-labels :attr:`self_training` accepts; how many it learned.

        Call with routed records (any outcome: only auto-labels are considered) in the process
        that learns (the learner, the simulation). The audits that guard it are the policy's
        (``policy.audits``, the contract's); the calibration never sees these labels.
        """
        trainer = self.self_training
        if trainer is None:
            return 0
        audits = getattr(self.policy, "audits", None)
        chosen = [item for item in routed if item.decision.outcome == "label" and trainer.accepts(item.prediction, audits)]
        if not chosen:
            return 0
        xs = self.featurizer.transform_records([item.record for item in chosen])
        self._learn_taught(xs, [item.prediction.label for item in chosen])
        return len(chosen)

    def learn_auto_label(self, features: Mapping[str, float | int | str] | Record, prediction: Prediction) -> bool:
        """Self-training in the learner: learn one auto-label read back from ``labels``; whether it was learned.

        ``prediction``: the auto-label and its score as published; :attr:`self_training` decides
        (its score, the policy's audits), as :meth:`learn_auto` does for a routed batch.
        """
        trainer = self.self_training
        if trainer is None or not trainer.accepts(prediction, getattr(self.policy, "audits", None)):
            return False
        if isinstance(features, Record):
            x = self.featurizer.transform_records([features])[0]
        else:
            x = self.featurizer.transform_one(features)
        self._learn_taught([x], [prediction.label])
        return True

    def _learn_taught(self, xs: Sequence[dict[str, float]], labels: Sequence[str | None]) -> None:
        trainer = self.self_training
        for x, label in zip(xs, labels, strict=True):
            weight = trainer.weight * (1.0 if self.class_weights is None else self.class_weights.weight(label))
            self.model.learn_one(x, label, min(weight, 1.0), answer=False)
        trainer.learned += len(xs)

    def learn_evidence(self, evidence: Evidence, x: dict[str, float] | None = None) -> None:
        """Feed an answer's evidence to the policy (and the error drift detector) without the model learning it.

        With the record's model input ``x`` (:meth:`model_input`) the policy also keeps it, to re-test later
        model versions on this answer (:meth:`~labelstream.core.policy.base.Policy.keep_answer`).
        """
        self.policy.learn(evidence)
        if x is not None:
            self.policy.keep_answer(x, evidence)
        if self.monitor is not None:
            self.detections += self.monitor.update_error(
                evidence.correct, evidence.prediction.label, evidence.timestamp or None
            )

    def model_input(self, features: Mapping[str, float | int | str] | Record) -> dict[str, float]:
        """The model input of a record (or its features), without learning anything."""
        if isinstance(features, Record):
            return self.featurizer.transform_records([features])[0]
        return self.featurizer.transform_one(features)

    def check_answer(
        self, features: Mapping[str, float | int | str] | Record, label: str, x: dict[str, float] | None = None
    ) -> tuple[Flag | None, dict[str, float]]:
        """Whether the model, confident, contradicts an answer, and the model's probabilities (pure).

        ``(None, {})`` without a detector. Call before the model learns the
        answer (out-of-sample probabilities), then teach the detector with
        ``label_errors.learn_one(probabilities, label, flagged)``. ``x``: the
        record's :meth:`model_input` when the caller has it already.
        """
        if self.label_errors is None:
            return None, {}
        x = self.model_input(features) if x is None else x  # a record: its text too
        probabilities = self.model.predict_proba_one(x)
        return self.label_errors.check(probabilities, label), probabilities

    def _votes_for(self, record: Record | None, votes: Mapping[str, str] | None) -> Votes:
        if votes is not None:
            return tuple(votes.get(name) for name in self.weak.names)
        return self.weak.applier.apply([record])[0]

    def relabel(
        self, records: Sequence[Record], defer_reasons: Sequence[str], proposed_labels: Sequence[str | None],
        contexts: Sequence[Mapping[str, Any]] | None = None, closing: bool = False,
    ) -> Relabel:
        """Re-score deferred records under the current model: which the policy now accepts.

        Call after a new model version (or new calibration) lands, with each
        record's defer reason and the label the model proposed when it was
        deferred (the Deferred message's ``proposed_label``), and its routing
        context (``contexts``, from the stored record; it tells the drift
        generation): the contract relabels only records deferred for lack of
        evidence in the current generation whose label still stands. Accepted
        records are auto-labeled (``relabeled=True`` on their Label); the
        others keep waiting. ``closing``: the last relabel of a generation about to close on a challenger swap, with
        the outgoing version (:meth:`~labelstream.core.policy.base.Policy.closing_generation`).
        """
        if closing:
            with self.policy.closing_generation():
                return self.relabel(records, defer_reasons, proposed_labels, contexts)
        result = Relabel()
        contexts = contexts if contexts is not None else [None] * len(records)
        committee = self.committee if self.committee is not None and self.committee.require_agreement else None
        xs = self.featurizer.transform_records(records) if committee is not None else [None] * len(records)
        rows = zip(records, self.score(records), defer_reasons, proposed_labels, contexts, xs, strict=True)
        for record, prediction, reason, label, context, x in rows:
            if self.policy.accepts_deferred(prediction, reason, label, context) and (
                committee is None or committee.agrees(x, prediction.label)
            ):
                result.labeled.append((record, prediction))
            else:
                result.waiting.append(record)
        return result

    def drain_detections(self) -> list[Detection]:
        """The drift detections since the last call, oldest first."""
        detections, self.detections = self.detections, []
        return detections

    def _monitor_batch(
        self, records: Sequence[Record], predictions: list[Prediction], decisions: list[Decision]
    ) -> None:
        monitor = self.monitor
        if not monitor.features:  # each detector fed its run of the batch in one loop: the same detections
            self.detections += monitor.update_predictions(
                predictions, [decision.outcome for decision in decisions],
                records.timestamps() if isinstance(records, _columnar.ColumnarBatch) else list(map(_timestamp_of, records)),
            )
            return
        for record, prediction, decision in zip(records, predictions, decisions, strict=True):
            self.detections += monitor.update_features(record.features, record.timestamp)
            self.detections += monitor.update_prediction(prediction, decision.outcome, record.timestamp)

    def swap_model(self, model: OnlineModel, featurizer: Featurizer, policy_state: dict, version: int) -> None:
        """Adopt a new model version; the policy keeps its routing state and takes the learned state.

        ``policy_state`` is what :meth:`learned_state` gave in the learner: the
        label model's part (``"weak"``) goes to the weak supervision, the rest
        to the policy.
        """
        self.model = model
        self.featurizer = featurizer
        if WEAK_STATE_KEY in policy_state:
            policy_state = dict(policy_state)
            weak_state = policy_state.pop(WEAK_STATE_KEY)
            if self.weak is not None:
                self.weak.load_learned_state(weak_state)
        if LABEL_ERRORS_STATE_KEY in policy_state:
            policy_state = dict(policy_state)
            detector_state = policy_state.pop(LABEL_ERRORS_STATE_KEY)
            if self.label_errors is not None:
                self.label_errors.load_state(detector_state)
        policy_state = dict(policy_state)
        counts = policy_state.pop(CLASS_WEIGHTS_STATE_KEY, None)
        if counts is not None and self.class_weights is not None:
            self.class_weights.load_state(counts)
        members = policy_state.pop(COMMITTEE_STATE_KEY, None)
        if members is not None and self.committee is not None:
            self.committee.load_state(members)
        answered = policy_state.pop(ANSWERED_MIX_STATE_KEY, None)
        if answered is not None and self.class_mix is not None:
            self.class_mix.load_answers(answered)
        self.policy.load_learned_state(policy_state)
        self.model_version = version

    def learned_state(self) -> dict:
        """The state a model version ships besides the model: the policy's, and the label model's under ``"weak"``."""
        state = dict(self.policy.learned_state())
        if self.weak is not None:
            state[WEAK_STATE_KEY] = self.weak.learned_state()
        if self.label_errors is not None:
            state[LABEL_ERRORS_STATE_KEY] = self.label_errors.state()
        if self.class_weights is not None:
            state[CLASS_WEIGHTS_STATE_KEY] = self.class_weights.state()
        if self.committee is not None:
            state[COMMITTEE_STATE_KEY] = self.committee.state()
        if self.class_mix is not None:
            state[ANSWERED_MIX_STATE_KEY] = self.class_mix.answers()
        return state




import labelstream.core.columnar as _columnar  # noqa: E402 - it subclasses Routed (a module reference: either may be imported first)
