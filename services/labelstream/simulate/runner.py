"""The in-process simulation loop: a labeled file through the core engine, with a simulated reviewer.

Rows are streamed in file order, in micro-batches, through
:class:`~labelstream.core.engine.LabelingEngine`. A record routed to review
is answered by a :class:`~labelstream.simulate.reviewer.SimulatedReviewer`:
by default at once and with the true label from the label column (an oracle),
else some records later and sometimes wrongly; the engine learns the answer
when it arrives, with the evidence the policy needs (the prediction and
routing context of when the record was routed). Precision in the report is
always measured against the label column, never against the answers. Deferred records
wait; every ``learner.publish_every_corrections`` learned answers a new
model version "lands" and they are re-scored (``engine.relabel``): those the
policy now accepts are auto-labeled with ``relabeled=True``. With drift
detection on (``drift.enabled``), detections go to the drift reaction
(policy notified, challenger started), and a winning challenger becomes a
new model version (a new calibration generation: just before it, the
generation's deferred records get a last relabel with the outgoing model,
``ContractPolicy.closing_generation``). With ``review.overlap_share``, that share of reviewed
records gets a second, independent answer (within the review budget) from a
reviewer with the same error rate, spending the budget like a review: the pair goes to the policy
(``learn_overlap``: how accurate reviewers are at most), the first answer is
learned. With ``review.gold_share``, for that share of reviewed records the
reviewer also answers a gold item (a record of the batch, any route, shown
with the model's label), spending the budget the same way: whether it was
right, and whether the proposal was right and the answer agreed with it, go to
the policy with the record's answer (``learn_gold``). With a
:class:`~labelstream.simulate.reviewer_pool.ReviewerPool` several reviewers
share the answers, each with their own error rate: the record's reviewer also
answers its gold item, an overlap item's second answer is another reviewer's,
and with ``review.gold_hold_below`` the pool holds reviewers by the review
service's rule; the policy hears of each hold (``hold_reviewer``) after the
answers given before it, as the learner does from the review outbox.

Time is virtual: record ``i`` arrives at ``i / records_per_second`` seconds
(this drives a per-minute review budget and evidence ageing).

>>> from labelstream.datafile import rows_from_text
>>> from labelstream.settings import load_settings
>>> text = "x,y\\n" + "".join(f"{i % 2 * 2 - 1},{'pos' if i % 2 else 'neg'}\\n" for i in range(400))
>>> policy = {"name": "threshold", "confidence_threshold": 0.6, "cold_start_records": 20, "cold_start_corrections": 0,
...           "review_budget_share": None}
>>> result = Simulation(load_settings(policy=policy)).run(rows_from_text(text, "csv", label_column="y"))
>>> result.report["records"], result.report["auto_share"], result.report["auto_precision"]
(400, 0.9475, 1.0)
>>> result.report["reasons"]["review"]
{'cold_start': 20, 'uncertain': 1}
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from labelstream.core.build import build_engine
from labelstream.core.calibration_versions import VersionChangeCheck, evidence_margin
from labelstream.core.decode import DecodeError, RecordDecoder
from labelstream.core.drift import DriftMonitor
from labelstream.core.engine import LabelingEngine, Routed
from labelstream.core.policy import Evidence, Prediction
from labelstream.core.reaction import DriftReaction
from labelstream.core.schemas import Record
from labelstream.datafile import Row
from labelstream.errors import InputFileError
from labelstream.settings import Settings
from labelstream.simulate.gold_set import SimulatedGoldSet
from labelstream.simulate.report import RecordOutcome, build_report
from labelstream.simulate.reviewer import SimulatedReviewer
from labelstream.simulate.reviewer_pool import ReviewerPool
from labelstream.simulate.weak_report import weak_report

GoldAnswer = tuple[bool, bool | None, bool | None, str | None]
"""A gold answer as ``ContractPolicy.learn_gold`` takes it: right, the proposal right, agreed with it, the reviewer."""


@dataclass
class _Arrival:
    """What reaches the learner at its time: a reviewed record's answer (with its overlap and gold answers), or the
    review service's word that a reviewer is held (``hold``: name, held)."""

    item: Routed | None = None
    answer: str = ""
    second: str | None = None
    gold: GoldAnswer | None = None
    hold: tuple[str, bool] | None = None


@dataclass
class SimulationResult:
    """Per-record outcomes, the report built from them, and rows that could not be used."""

    outcomes: list[RecordOutcome]
    report: dict[str, Any]
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)


class Simulation:
    """One simulated run of the core over a labeled stream.

    Parameters
    ----------
    settings
        The effective settings (model, policy, drift, ``learner.publish_every_corrections``).
    window_size
        Records per window in the report.
    batch_size
        Records routed together (answers arrive after their batch).
    records_per_second
        Pace of the virtual clock.
    deferred_ttl
        Records after which a deferred record is no longer re-scored (like the services'
        Redis TTL); ``None`` keeps re-scoring it until the end.
    on_record
        Called with the number of rows consumed so far (progress bars).
    reviewer
        Who answers reviews (default: at once, always right): one simulated reviewer, or a pool of them (its hold
        floor must be ``review.gold_hold_below``, which also makes the policy's gold bound drop held reviewers).
    gold_wrong_share
        :class:`SimulatedGoldSet`'s share of gold items the model got wrong (``None``: as in the stream).
    """

    def __init__(
        self,
        settings: Settings,
        window_size: int = 500,
        batch_size: int = 1,
        records_per_second: float = 10.0,
        deferred_ttl: int | None = None,
        on_record: Callable[[int], None] | None = None,
        reviewer: SimulatedReviewer | ReviewerPool | None = None,
        gold_wrong_share: float | None = None,
    ) -> None:
        self.settings = settings
        self.window_size = window_size
        self.batch_size = batch_size
        self.records_per_second = records_per_second
        self.deferred_ttl = deferred_ttl
        self.on_record = on_record
        self.pool = reviewer if isinstance(reviewer, ReviewerPool) else None
        self.reviewer = reviewer if isinstance(reviewer, SimulatedReviewer) else SimulatedReviewer()
        if self.pool is not None and (self.pool.hold_below, self.pool.hold_min_answers) != (
                settings.review.gold_hold_below, settings.review.gold_hold_min_answers):
            raise ValueError("the reviewer pool's hold rule must be review.gold_hold_below and gold_hold_min_answers "
                             "(the policy's gold bound drops held reviewers only with holds on)")
        self.now = 0.0
        self.engine: LabelingEngine = build_engine(settings, clock=lambda: self.now)
        self.reaction: DriftReaction | None = None
        if settings.drift.enabled:
            self.engine.monitor = DriftMonitor.from_settings(settings.drift)
            self.reaction = DriftReaction.from_settings(settings.drift, settings.model)
        self.outcomes: list[RecordOutcome] = []
        self.drift_events: list[dict[str, Any]] = []
        self.invalid_rows: list[tuple[int, str]] = []
        self._deferred: dict[int, tuple[Record, str, str | None, dict[str, Any]]] = {}  # index -> record, reason, proposed label, context
        self._learned_since_version = 0
        self._decoder = RecordDecoder.from_limits(settings.limits)
        # heap: (due, order, what arrives); order: the record's index (a hold decided at it: index + 0.5)
        self._answers: list[tuple[int, float, _Arrival]] = []
        self._latest_due = 0  # of the answers given so far: a hold reaches the learner after them (the outbox's order)
        self.answered_by: dict[int, str] = {}  # with a pool: record index -> the reviewer who answered it
        self.hold_events: list[dict[str, Any]] = []  # with a pool: each hold and release, decided and told
        self.overlap_answers = 0
        self.gold_answers = 0
        self.gold_right = 0
        bar = settings.policy.version_change_reset
        self._version_check = VersionChangeCheck(bar) if bar is not None else None  # policy.version_change_reset
        self._overlap_rng = random.Random(settings.policy.seed * 7919 + 1)
        self._second_reviewer = SimulatedReviewer(
            None, self.reviewer.error_rate, self.reviewer.errors, seed=settings.policy.seed * 7919 + 2
        )
        self._gold_rng = random.Random(settings.policy.seed * 7919 + 3)
        self._gold_set = SimulatedGoldSet(gold_wrong_share, seed=settings.policy.seed * 7919 + 5)
        self._gold_reviewer = SimulatedReviewer(
            None, self.reviewer.error_rate, self.reviewer.errors, seed=settings.policy.seed * 7919 + 4
        )
        self._labels: dict[str, None] = {}  # labels seen so far, in order (a wrong answer is one of them)

    def run(self, rows: Iterable[Row]) -> SimulationResult:
        """Stream every row through the engine and build the report."""
        started = time.perf_counter()
        consumed = 0
        for batch in self._batches(rows):
            self._route(batch)
            consumed += len(batch)
            if self.on_record is not None:
                self.on_record(consumed)
        self._deliver(until=None)  # answers still on their way arrive after the stream
        self._new_version()  # the last answers land too
        elapsed = time.perf_counter() - started
        report = build_report(
            self.outcomes,
            self.settings.model_dump(mode="json", exclude={"kafka", "redis"}),
            self.window_size,
            self.settings.policy.confidence_level,
            self.drift_events,
            extra={
                "invalid_rows": len(self.invalid_rows),
                "overlap_answers": self.overlap_answers,
                "gold_answers": self.gold_answers,
                "gold_right": self.gold_right,
                "seconds": round(elapsed, 3),
                "records_per_second": round(len(self.outcomes) / elapsed, 1) if elapsed > 0 else None,
                **self._pool_report(),
                **self._weak_report(),
                **self._methods_report(),
            },
        )
        return SimulationResult(self.outcomes, report, self.invalid_rows)

    def _pool_report(self) -> dict[str, Any]:
        """The ``reviewers`` section (each reviewer's answers, gold figures, holds) and ``holds``, with a pool."""
        if self.pool is None:
            return {}
        return {"reviewers": self.pool.report(), "holds": self.hold_events}

    def _weak_report(self) -> dict[str, Any]:
        """The ``labeling_functions`` section, when LFs were used."""
        weak = self.engine.weak
        if weak is None:
            return {}
        return {"labeling_functions": weak_report(weak, self.outcomes)}

    def _methods_report(self) -> dict[str, Any]:
        """Self-training, committee and class-mix figures (the first two only when on)."""
        engine, out = self.engine, {}
        if engine.self_training is not None:
            out["self_training"] = {"learned": engine.self_training.learned, "paused": engine.self_training.paused}
        if engine.committee is not None:
            out["committee"] = {"checked": engine.committee.checked, "disagreed": engine.committee.disagreed}
        if engine.class_mix is not None:
            out["class_mix"] = {"distance": engine.class_mix.distance(), "shares": engine.class_mix.shares()}
        return out

    # -- input ---------------------------------------------------------------------------------

    def _batches(self, rows: Iterable[Row]) -> Iterator[list[tuple[Record, str]]]:
        batch: list[tuple[Record, str]] = []
        for row in rows:
            labeled = self._labeled_record(row)
            if labeled is None:
                continue
            batch.append(labeled)
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _labeled_record(self, row: Row) -> tuple[Record, str] | None:
        if row.payload is None:
            self.invalid_rows.append((row.line, row.error or "invalid row"))
            return None
        if row.label is None:
            raise InputFileError(
                f"line {row.line}: no value in the label column (every row needs its true label to simulate)"
            )
        record = self._decoder.validate(row.payload)
        if isinstance(record, DecodeError):
            self.invalid_rows.append((row.line, record.message))
            return None
        return record, row.label

    # -- the loop ------------------------------------------------------------------------------

    def _route(self, batch: list[tuple[Record, str]]) -> None:
        engine = self.engine
        routed = engine.process([record for record, _ in batch])
        engine.learn_auto(routed)  # self-training, when on (the learner's part in the services)
        if self._version_check is not None:
            for record, _ in batch:
                self._version_check.observe(self.engine.featurizer.transform_one(record.features))
        self._gold_set.add((true_label, item.prediction.label) for (_, true_label), item in zip(batch, routed, strict=True))
        for (record, true_label), item in zip(batch, routed, strict=True):
            index = len(self.outcomes)
            self.now = index / self.records_per_second
            self._labels[true_label] = None
            answer = None
            if item.decision.outcome == "review" and self.pool is not None:
                answer = self._pool_review(index, true_label, item)
            elif item.decision.outcome == "review":
                answer = self.reviewer.answer(true_label, item.prediction.label, list(self._labels))
                due = index + 1 + self.reviewer.delay_records()  # at once: after its batch
                arrival = _Arrival(item, answer, self._overlap_answer(true_label, item), self._gold_answer())
                heapq.heappush(self._answers, (due, index, arrival))
            elif item.decision.outcome == "deferred":
                self._deferred[index] = (record, item.decision.reason, item.prediction.label, item.decision.context)
            self.outcomes.append(self._outcome(index, item, true_label, answer))
        self._deliver(until=len(self.outcomes))

    def _pool_review(self, index: int, true_label: str, item: Routed) -> str:
        """A reviewed record answered by the pool: holds found since take effect, a reviewer is drawn and answers,
        with an overlap item's second answer (another reviewer) and a gold item (the same reviewer); holds the gold
        answer brings reach the learner after every answer given so far."""
        pool = self.pool
        assert pool is not None
        self._tell_holds(index, pool.changes(index))
        name = pool.choose(index)
        assert name is not None, "a record's first answer always has a reviewer"
        self.answered_by[index] = name
        labels = list(self._labels)
        answer = pool.answer(name, true_label, item.prediction.label, labels)
        second = None
        if self._extra_answer(self.settings.review.overlap_share, self._overlap_rng):
            other = pool.choose(index, exclude=name)  # nobody left (every other reviewer held): no second answer
            if other is not None:
                self.overlap_answers += 1
                second = pool.answer(other, true_label, item.prediction.label, labels)
        gold = self._gold_answer(name)
        due = index + 1 + pool.delay_records()
        self._latest_due = max(self._latest_due, due)
        heapq.heappush(self._answers, (due, index, _Arrival(item, answer, second, gold)))
        if gold is not None:
            pool.gold_answer(name, gold[0], index)
            self._tell_holds(index, pool.changes(index))
        return answer

    def _tell_holds(self, index: int, changes: list[tuple[str, bool]]) -> None:
        """Holds the review service decided at record ``index``: the learner hears of each after the answers given
        before it (the outbox publishes in order), and only then the policy drops or counts the reviewer's gold."""
        for name, held in changes:
            self.hold_events.append({"reviewer": name, "held": held, "decided_at": index, "told_at": None})
            heapq.heappush(self._answers, (self._latest_due, index + 0.5, _Arrival(hold=(name, held))))

    def _deliver(self, until: int | None) -> None:
        """Learn the answers due by record ``until`` (all of them with ``None``), in the order they arrive."""
        while self._answers and (until is None or self._answers[0][0] <= until):
            _due, order, arrival = heapq.heappop(self._answers)
            if arrival.hold is not None:
                self._hold(*arrival.hold)
                continue
            item, answer, second, gold = arrival.item, arrival.answer, arrival.second, arrival.gold
            assert item is not None
            generation = self._drift_generation()
            self._answer(item, answer, self.answered_by.get(order))
            if second is not None and hasattr(self.engine.policy, "learn_overlap"):
                self.engine.policy.learn_overlap([answer, second])
            if gold is not None and hasattr(self.engine.policy, "learn_gold"):
                self.engine.policy.learn_gold(*gold)
            if self._drift_generation() > generation:  # the policy's own calibration check reset its evidence
                self.drift_events.append({"detector": "calibration_check", "at_record": len(self.outcomes), "steps": ["policy"]})
            self._handle_drift()
            if self._learned_since_version >= self.settings.learner.publish_every_corrections:
                self._new_version()

    def _hold(self, name: str, held: bool) -> None:
        """The learner hears of a hold (or its end), as from the live ``hold`` correction."""
        event = next(e for e in reversed(self.hold_events) if e["reviewer"] == name and e["held"] is held and e["told_at"] is None)
        event["told_at"] = len(self.outcomes)
        if hasattr(self.engine.policy, "hold_reviewer"):
            self.engine.policy.hold_reviewer(name, held)

    def _check_version_change(self) -> None:
        """``policy.version_change_reset``: a new generation when this version relabels the recent auto region."""
        calibrator = getattr(self.engine.policy, "calibrator", None)
        if self._version_check is None or calibrator is None:
            return
        generation = getattr(self.engine.policy, "generation", None)
        thresholds = calibrator.thresholds()
        margin = evidence_margin(calibrator, thresholds)
        if self._version_check.changed(self.engine.model, thresholds, generation, margin):
            self.engine.policy.on_drift("version_change")
            self.drift_events.append({"detector": "version_change", "at_record": len(self.outcomes), "steps": ["policy"]})

    def _overlap_answer(self, true_label: str, item: Routed) -> str | None:
        """A second reviewer's answer, for ``review.overlap_share`` of reviewed records (one more review spent)."""
        if not self._extra_answer(self.settings.review.overlap_share, self._overlap_rng):
            return None
        self.overlap_answers += 1
        return self._second_reviewer.answer(true_label, item.prediction.label, list(self._labels))

    def _gold_answer(self, reviewer: str | None = None) -> GoldAnswer | None:
        """For ``review.gold_share`` of reviewed records, a reviewer's answer to a gold item (one more review spent):
        whether it was right, whether the model's proposal was, and whether the answer agreed with it (``None``: no
        proposal; ``None`` overall: no gold answer). An admin's gold set is a labeled sample of the stream, not of
        the records the policy sends to review (those are the uncertain ones), so the gold item stands in as a
        record drawn by :class:`SimulatedGoldSet` whatever its route (of the current batch, or of a set enriched in
        the model's mistakes), and the reviewer answers it shown the model's proposal (``follows_model`` and
        ``with_model`` errors are swayed by it). ``reviewer``: the pool's reviewer who answers it (``None``: the one
        simulated reviewer)."""
        if not self._extra_answer(self.settings.review.gold_share, self._gold_rng):
            return None
        stand_in = self._gold_set.draw()
        assert stand_in is not None, "a gold answer comes with a reviewed record of the batch just added"
        truth, proposed = stand_in
        if reviewer is None:
            answer = self._gold_reviewer.answer(truth, proposed, list(self._labels))
        else:
            assert self.pool is not None
            answer = self.pool.answer(reviewer, truth, proposed, list(self._labels))
        self.gold_answers += 1
        self.gold_right += int(answer == truth)
        if proposed is None:
            return answer == truth, None, None, reviewer
        return answer == truth, proposed == truth, answer == proposed, reviewer

    def _extra_answer(self, share: float, rng: random.Random) -> bool:
        """Whether a reviewed record brings an extra answer (an overlap or gold one) at ``share``; it spends the budget."""
        if share <= 0 or rng.random() >= share:
            return False
        budget = getattr(self.engine.policy, "budget", None)
        if budget is not None:
            # Spent even when the budget is just full (a record's review was just admitted): the gate then turns
            # the next requests away until the stream catches up, so extra answers take their share of the budget
            # instead of only its leftovers (a budget in use is always full). Not a request: the gate's admission
            # rate describes records, not extra answers.
            budget.spend()
        return True

    def _outcome(self, index: int, item: Routed, true_label: str, answer: str | None) -> RecordOutcome:
        decision, prediction = item.decision, item.prediction
        context = decision.context
        outcome = RecordOutcome(
            index, item.record.id, true_label, decision.outcome, decision.reason, prediction.label,
            prediction.confidence, decision.inclusion_probability, model_version=self.engine.model_version,
            generation=int(context.get("generation", 0)),
            audit_probability=context.get("p_audit") if decision.reason == "audit" else None,
            votes=item.votes,
        )
        if decision.outcome == "label":
            return replace(outcome, label=prediction.label, method=item.method)
        if decision.outcome == "review":
            return replace(outcome, label=answer, method="human")
        return outcome

    def _answer(self, item: Routed, answer: str, reviewer: str | None = None) -> None:
        """The reviewer's answer arrives; the drift reaction and the engine learn it (``reviewer``: the pool's reviewer
        who gave it, on its evidence; ``None``: the one simulated reviewer, as on its gold answers)."""
        engine = self.engine
        if self.reaction is not None:
            x = engine.featurizer.transform_one(item.record.features)
            champion = Prediction.from_probabilities(engine.model.predict_proba_one(x)).label
            self.reaction.observe_answer(x, answer, champion)
        decision = item.decision
        evidence = Evidence(
            item.prediction, answer, decision.reason, decision.inclusion_probability, self.now,
            context=decision.context, reviewer=reviewer,
        )
        engine.learn(item.record, answer, evidence, votes=item.votes or {})
        self._learned_since_version += 1

    def _drift_generation(self) -> int:
        return getattr(self.engine.policy, "drift_generation", 0)

    def _handle_drift(self) -> None:
        if self.reaction is None:
            return
        for detection in self.engine.drain_detections():
            steps = self.reaction.react(detection, self.engine.policy)
            self.drift_events.append({**asdict(detection), "at_record": len(self.outcomes), "steps": steps})
        winner = self.reaction.take_winner()
        if winner is not None:
            # The generation closes with the swap: its deferred records get one last relabel by the outgoing model,
            # thresholds no longer waiting for the others (ContractPolicy.closing_generation; docs/contract.md).
            if self.engine.policy.held():
                self._relabel_deferred(closing=True)
            engine = self.engine
            engine.swap_model(winner, engine.featurizer, engine.policy.learned_state(), engine.model_version)
            engine.monitor.restart_prediction_detectors()
            engine.policy.on_drift("challenger")  # a different model: its scores need their own calibration
            self.drift_events.append({"detector": "challenger", "at_record": len(self.outcomes), "steps": ["swap", "policy"]})
            self._new_version()

    def _new_version(self) -> None:
        """A model version lands: deferred records the policy now accepts are auto-labeled."""
        self._learned_since_version = 0
        self.engine.model_version += 1
        self._check_version_change()
        self.engine.policy.recheck_version(self.engine.model)  # the thresholds in force, re-tested on this version
        self._relabel_deferred()

    def _relabel_deferred(self, closing: bool = False) -> None:
        """Deferred records the policy now accepts are auto-labeled (``closing``: the generation's last relabel, before
        a challenger swap)."""
        if self.deferred_ttl is not None:
            oldest = len(self.outcomes) - self.deferred_ttl
            for index in [i for i in self._deferred if i < oldest]:
                del self._deferred[index]
        if not self._deferred:
            return
        indexes = list(self._deferred)
        records, reasons, proposed, contexts = zip(*(self._deferred[i] for i in indexes), strict=True)
        relabel = self.engine.relabel(records, reasons, proposed, contexts, closing=closing)
        accepted = {record.id: prediction for record, prediction in relabel.labeled}
        for index in indexes:
            prediction = accepted.get(self._deferred[index][0].id)
            if prediction is None:
                continue
            del self._deferred[index]
            self.outcomes[index] = replace(
                self.outcomes[index], outcome="label", label=prediction.label, method="auto", relabeled=True,
                model_version=self.engine.model_version,
            )
