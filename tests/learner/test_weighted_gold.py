"""The stream-share-weighted gold bound in the real learner (policy.gold_bound 'weighted'; docs/contract.md, section 5,
"Stream-share-weighted gold bound"): a learner process on the test's Kafka and Redis, gold answers and real answers
sent on ``corrections`` as the review service sends them, the real answers' records stored in Redis first as a labeler
leaves them (reviewed with probability 1 in generation 0, predicted ``a`` at 0.9, answered ``a``: no drift).

What is observed is what the learner exposes: its gauge ``labelstream_policy_reviewer_accuracy`` (Σ w_j U_j over the
real answers counted, a reviewer not bet on counted at 1) and the policy state of the versions it publishes (the real
answers counted per reviewer, and whether any threshold bet on them). Gold: ann right 98 of 100 times, bo 60 of 100,
in turn; pooled they are bounded at about 0.86, ann alone at 0.999, and bo is not bet on (his gold is under his bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from labelstream.core.build import reviewer_bound_alpha
from labelstream.core.calibration_weighted import StreamWeightedGoldBound, answer_bar
from labelstream.core.schemas import Correction
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.processes import ServiceProcess, service, stop_all
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from labelstream.store.records import RecordStore, StoredRecord

pytestmark = pytest.mark.integration

GOLD_BOUND = "weighted"  # pinned: the default may move, this test is about this bound
CONTEXT = {
    "outcome": "review",
    "generation": 0,
    "model_version": 0,
    "threshold": None,
    "p_review": 1.0,
    "p_least": 1.0,
    "p_audit": 1.0,
    "p_floor": 1.0,
}
# the i-th gold answer: ann 98 %, bo 60 %, cy 98 % right
RIGHT = {"ann": lambda i: i % 50 != 7, "bo": lambda i: i % 5 < 3, "cy": lambda i: i % 50 != 30}

Event = tuple[str, str, int]  # ("gold" | "answer", reviewer, their i-th)


def reviewed(record_id: str) -> StoredRecord:
    """A record as a labeler leaves one it sent to review (probability 1, generation 0), predicted ``a`` at 0.9."""
    return StoredRecord(
        record_id, {"x": 1.0}, "review", "cold_start", {"a": 0.9, "b": 0.1}, 1.0, 0, time.time(), context=dict(CONTEXT)
    )


class Run:
    """One learner with its own topics and Redis keys; sends corrections as the review service does."""

    def __init__(self, settings: Settings, learner: ServiceProcess) -> None:
        self.settings = settings
        self.learner = learner
        self.producer = Producer(producer_config(settings.kafka))
        self.store = RecordStore.from_settings(connect(settings.redis), settings)
        self.registry = ModelRegistry.from_settings(connect(settings.redis), settings)
        # the bounds the learner must reach: the core's, fed the same gold answers
        self.oracle = StreamWeightedGoldBound(reviewer_bound_alpha(settings.policy))
        self.answers: dict[str, int] = {}

    def send(self, events: list[Event], tag: str) -> None:
        """The events in order: a gold answer, or a real answer to a record stored first (answered ``a``)."""
        ids = [f"{tag}{n}" for n, (kind, _, _) in enumerate(events) if kind == "answer"]
        self.store.put_many(
            [reviewed(i) for i in ids],
            count_reviews=False,
            queue_deferred=False,
        )
        for n, (kind, name, i) in enumerate(events):
            if kind == "gold":
                correct = RIGHT[name](i)
                self.oracle.learn(correct, name)
                correction = Correction(
                    id=f"g{i % 12}",
                    label="x",
                    reviewer=name,
                    kind="gold",
                    answer_id=f"g{i % 12}#{name}{i}",
                    correct=correct,
                )
            else:
                self.answers[name] = self.answers.get(name, 0) + 1
                correction = Correction(id=f"{tag}{n}", label="a", reviewer=name, answer_id=f"{tag}{n}#1")
            self.producer.produce(
                self.settings.topics.corrections, key=correction.id.encode(), value=correction.wire_json()
            )
        assert self.producer.flush(30) == 0

    def send_answers(self, name: str, answers: list[tuple[str, float, str]]) -> None:
        """Real answers of ``name``, (record id, x, label) each, to records stored first (``x`` > 0 predicted ``a``)."""
        self.store.put_many(
            [
                StoredRecord(
                    i,
                    {"x": x, "y": -x / 2},
                    "review",
                    "cold_start",
                    {"a": 0.9, "b": 0.1} if x > 0 else {"a": 0.1, "b": 0.9},
                    1.0,
                    0,
                    time.time(),
                    context=dict(CONTEXT),
                )
                for i, x, _ in answers
            ],
            count_reviews=False,
            queue_deferred=False,
        )
        for i, _, label in answers:
            self.answers[name] = self.answers.get(name, 0) + 1
            correction = Correction(id=i, label=label, reviewer=name, answer_id=f"{i}#1")
            self.producer.produce(self.settings.topics.corrections, key=i.encode(), value=correction.wire_json())
        assert self.producer.flush(30) == 0

    def counted(self, result: str) -> float:
        """The learner's ``labelstream_corrections_total`` of ``result``."""
        sample = f'labelstream_corrections_total{{result="{result}"}} '
        return sum(
            float(line.split()[-1]) for line in self.learner.metrics_text().splitlines() if line.startswith(sample)
        )

    def version(self, corrections: int, done: Callable[[dict], bool] = lambda _: True, timeout: float = 45) -> dict:
        """The policy state of the first version seen with ``corrections`` real answers learned (and ``done``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.registry.load_latest()
            if (
                state is not None
                and state.metrics.get("corrections_applied") == corrections
                and done(state.policy_state)
            ):
                return state.policy_state
            time.sleep(0.2)
        raise AssertionError(f"no version with {corrections} answers learned:\n{self.learner.log_tail()}")

    def expected_accuracy(self) -> float:
        """Σ w_j U_j over the real answers sent, U_j from the reviewer's own gold answers (1: not bet on)."""

        def shown(name: str) -> float:
            accuracy = self.oracle.upper_of(name)
            bar = answer_bar(self.settings.policy.target_precision, accuracy, *self.oracle.counts_of(name))
            return 1.0 if bar is None else accuracy

        total = sum(self.answers.values())
        return sum(count * shown(name) for name, count in self.answers.items()) / total

    def accuracy_in_force(self, expected: float, timeout: float = 5) -> float:
        """The learner's gauge once it shows ``expected`` (it is set just after a version is stored), else as it is."""
        deadline = time.monotonic() + timeout
        while (seen := self.gauge()) != pytest.approx(expected, abs=1e-9) and time.monotonic() < deadline:
            time.sleep(0.2)
        return seen

    def all_committed(self, timeout: float = 30) -> None:
        """Until the learner's consumer group has committed every message on ``corrections`` (its events acked)."""
        topic = self.settings.topics.corrections
        consumer = Consumer(consumer_config(self.settings.kafka, self.settings.learner.app_id))
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
                tps = [TopicPartition(topic, p) for p in partitions]
                ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
                if [tp.offset for tp in consumer.committed(tps, timeout=10)] == ends:
                    return
                time.sleep(0.2)
        finally:
            consumer.close()
        raise AssertionError(f"the learner did not commit all of {topic}:\n{self.learner.log_tail()}")

    def kill_and_restart(self) -> None:
        """SIGKILL the learner (no chance to publish on the way out) and start it again on the same topics and keys."""
        self.learner.kill()
        self.learner.start().wait_until_serving()

    def gauge(self) -> float:
        for line in self.learner.metrics_text().splitlines():
            if line.startswith("labelstream_policy_reviewer_accuracy "):
                return float(line.split()[1])
        return float("nan")


@pytest.fixture
def start_run(settings_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """``start_run(**sections)``: a learner with the weighted gold bound on its own topics and keys, serving; stopped
    after the test."""
    started: list[ServiceProcess] = []

    def start(**sections: dict) -> Run:
        policy = {"reviewer_accuracy_from_gold": True, "gold_bound": GOLD_BOUND, **sections.pop("policy", {})}
        settings = settings_factory(
            partitions=1,
            policy=policy,
            learner={"publish_every_corrections": 10_000, "publish_every_seconds": 0.3},
            **sections,
        )
        learner = service(settings, "learner", tmp_path)
        started.append(learner)
        learner.start().wait_until_serving()
        return Run(settings, learner)

    yield start
    stop_all(started)


@pytest.fixture
def run(start_run: Callable[..., Run]) -> Run:
    """A learner with the weighted gold bound, serving."""
    return start_run()


def in_turn(kind: str, names: tuple[str, ...], each: int, start: int = 0) -> list[Event]:
    """``each`` events of every reviewer of ``names``, in turn, numbered from ``start``."""
    return [(kind, name, i) for i in range(start, start + each) for name in names]


def stream(ann: int, bo: int) -> list[Event]:
    """Real answers, ``ann`` of ann's and ``bo`` of bo's, bo's spread evenly among ann's."""
    total = ann + bo
    return [("answer", "bo" if (k + 1) * bo // total > k * bo // total else "ann", k) for k in range(total)]


def bets(policy_state: dict) -> dict:
    """The calibration's bet wealth by class in a version (a class appears once a threshold bet on one answer)."""
    return policy_state["calibration"]["classes"]


GOLD = in_turn("gold", ("ann", "bo"), 100)


def test_real_answers_mostly_from_ann_are_held_to_her_bound_not_the_pools(run):
    run.send(GOLD + stream(ann=90, bo=10), "r")
    state = run.version(100)
    expected = run.expected_accuracy()  # 0.9 U_ann + 0.1 (bo not bet on); the pool is about 0.86
    assert expected == pytest.approx(0.9 * run.oracle.upper_of("ann") + 0.1) and 0.99 < expected < 1
    assert (seen := run.accuracy_in_force(expected)) == pytest.approx(expected, abs=1e-9), seen
    assert state["gold_bound"]["stream"] == {"ann": 90, "bo": 10}, state["gold_bound"].get("stream")
    assert "a" in bets(state), "ann's answers are bet on"
    print(f"accuracy in force {seen!r}, ann's bound {run.oracle.upper_of('ann')!r}")


def test_real_answers_mostly_from_bo_are_not_bet_on_his_name_travels(run):
    run.send(GOLD + stream(ann=0, bo=90), "r")
    state = run.version(90)
    # bo's gold is under his bar: no threshold bets on his answers, where the pool's bar (0.82) or a nameless
    # answer's (the target's own) would bet on every one
    assert state["calibration"]["answers"] == 90 and bets(state) == {}, (
        f"bo's answers were bet on: {sorted(bets(state))}"
    )
    assert state["gold_bound"]["stream"] == {"bo": 90}, state["gold_bound"].get("stream")
    run.send(stream(ann=10, bo=0), "s")
    state = run.version(100)
    expected = run.expected_accuracy()  # 0.1 U_ann + 0.9: bo's share counts at 1, his answers prove nothing
    assert expected == pytest.approx(0.1 * run.oracle.upper_of("ann") + 0.9) and expected < 1
    assert (seen := run.accuracy_in_force(expected)) == pytest.approx(expected, abs=1e-9), seen
    assert state["gold_bound"]["stream"] == {"bo": 90, "ann": 10}
    assert "a" in bets(state), "ann's answers are bet on"


def test_ann_out_of_gold_keeps_her_bound_while_bo_answers_gold_on(run):
    # ann out of gold after 60 answers (the service serves no gold item twice) while her real answers go on,
    # between bo's next 140 gold answers: pooled, bo's would pull the bound to about 0.75
    late = [
        event for pair in zip(in_turn("gold", ("bo",), 140, 60), stream(ann=140, bo=0), strict=True) for event in pair
    ]
    run.send(in_turn("gold", ("ann", "bo"), 60) + late[:180] + stream(ann=0, bo=10) + late[180:], "r")
    state = run.version(150)
    expected = run.expected_accuracy()
    assert expected == pytest.approx((140 * run.oracle.upper_of("ann") + 10) / 150) and 0.99 < expected < 1
    assert (seen := run.accuracy_in_force(expected)) == pytest.approx(expected, abs=1e-9), seen
    assert state["gold_bound"]["stream"] == {"ann": 140, "bo": 10}, state["gold_bound"].get("stream")
    reviewers = state["gold_bound"]["reviewers"]
    assert (reviewers["ann"]["answers"], reviewers["ann"]["right"], reviewers["bo"]["answers"]) == (60, 58, 200)
    assert reviewers["ann"]["bound"] == pytest.approx(run.oracle.upper_of("ann"), abs=1e-12)


def test_an_answer_held_for_a_second_review_counts_under_its_reviewers_name(start_run):
    """label_errors on: an answer the model contradicts is held, its evidence counted at once (docs/label-errors.md);
    it too is held to its own reviewer's bar: bo's, not bet on, not the target's own of a nameless answer."""
    run = start_run(label_errors={"enabled": True, "min_answers": 10, "min_confidence": 0.7})
    run.send(GOLD, "g")
    xs = [1.0 if i % 2 else -1.0 for i in range(60)]  # separable: x = +1 is a, x = -1 is b
    run.send_answers("ann", [(f"t{i}", x, "a" if x > 0 else "b") for i, x in enumerate(xs)])
    run.send_answers("bo", [(f"w{i}", 1.0, "b") for i in range(3)])  # contradicted by a confident model: held
    state = run.version(60, lambda s: sum(s["gold_bound"]["stream"].values()) == 63)
    assert run.counted("held_for_second_review") == 3  # held, not learned: 60 corrections applied, 63 counted
    assert state["gold_bound"]["stream"] == {"ann": 60, "bo": 3}, state["gold_bound"]["stream"]


def test_a_consensus_counts_under_its_first_answerer_with_the_overlap_bound_on(start_run):
    """With the overlap bound on too, a consensus's evidence is its first answer, held to the bar of the reviewer who
    gave it (bo: not bet on), not the consensus's (the target's own)."""
    run = start_run(policy={"reviewer_accuracy_from_overlap": True})
    run.send(GOLD, "g")
    run.store.put_many(
        [reviewed(f"c{i}") for i in range(20)],
        count_reviews=False,
        queue_deferred=False,
    )
    for i in range(20):
        correction = Correction(
            id=f"c{i}",
            label="a",
            reviewer="consensus",
            kind="consensus",
            answer_id=f"c{i}#c",
            answers={"bo": "a", "ann": "a"},
        )
        run.producer.produce(run.settings.topics.corrections, key=correction.id.encode(), value=correction.wire_json())
    assert run.producer.flush(30) == 0
    state = run.version(20)
    assert state["gold_bound"]["stream"] == {"bo": 20}, state["gold_bound"]["stream"]
    assert state["calibration"]["answers"] == 20 and bets(state) == {}, (
        f"bo's first answers were bet on: {sorted(bets(state))}"
    )


def test_a_learner_killed_and_restarted_keeps_each_reviewers_gold_answers_and_their_alpha_order(run):
    """SIGKILL after gold answers only (no real answer since the last version) were acked, then a restart: the restarted
    learner must bound each reviewer on every gold answer they gave, with the share of alpha of their place in the
    order of first gold answers (ann 1/2, cy 1/6, bo 1/12; not alphabetical), and go on holding bo's real answers to no bet. A learner
    that acks gold answers no version holds forgets bo's and cy's: bo is then bounded at 1 and his answers bet on at
    the target's bar (a proof could come of a reviewer right 60 % of the time); in another order (say by name) cy's and
    bo's bounds would be other ones."""
    run.send(in_turn("gold", ("ann",), 100) + stream(ann=20, bo=0), "r")
    wealth_after_ann = bets(run.version(20))["a"]["log_wealth"]  # ann's 20 answers bet on
    run.send(in_turn("gold", ("cy", "bo"), 100), "g")  # gold only: cy 98 % right, bo 60 %
    run.all_committed()
    run.kill_and_restart()
    # after the restart: cy's gold answers 100-199 (her checkpoint at 200 spends her share of alpha, which a restored
    # bound knows only by her place in the order), then bo's real answers
    run.send(in_turn("gold", ("cy",), 100, start=100) + stream(ann=0, bo=30), "s")
    state = run.version(50)
    oracle = run.oracle.state()["reviewers"]
    reviewers = state["gold_bound"]["reviewers"]
    assert list(reviewers) == ["ann", "cy", "bo"], f"gold answers per reviewer: {reviewers}"
    assert reviewers == oracle, f"restored {reviewers}, expected {oracle}"
    assert reviewers["cy"]["bound"] < 1.0 and reviewers["bo"]["bound"] < 0.8
    assert state["gold_bound"]["stream"] == {"ann": 20, "bo": 30}, state["gold_bound"]["stream"]
    assert bets(state)["a"]["log_wealth"] == wealth_after_ann, "bo's answers were bet on after the restart"
    expected = run.expected_accuracy()  # (20 U_ann + 30) / 50: bo not bet on, shown at 1
    assert (seen := run.accuracy_in_force(expected)) == pytest.approx(expected, abs=1e-9), seen


def test_the_conditional_bound_per_reviewer_counts_each_reviewers_gold_under_their_name_and_bets_on_their_bar(
    start_run,
):
    """policy.gold_bound 'conditional-weighted' in the real learner: gold answers shown with the model's proposal
    (half of them wrong proposals) teach each reviewer's own R and B, in the order of first gold answers (bo before
    ann: not by name), as the core's bound fed the same answers; real answers count under their reviewer and are bet
    on against their reviewer's bar. Fails if the learner drops the reviewer's name (one 'anonymous' bound, measured)
    or the proposal's fields (nothing learned)."""
    from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound

    run = start_run(policy={"gold_bound": "conditional-weighted"})
    oracle = StreamWeightedConditionalGoldBound(reviewer_bound_alpha(run.settings.policy))
    takes = {"bo": lambda i: i % 10 != 3, "ann": lambda i: i % 20 == 5}  # bo takes 90 % of wrong proposals, ann 5 %
    for i in range(200):
        for name in ("bo", "ann"):
            right = i % 2 == 0
            agreed = right or takes[name](i // 2)
            oracle.learn(right, agreed, name)
            correction = Correction(
                id=f"g{i % 12}",
                label="x",
                reviewer=name,
                kind="gold",
                answer_id=f"g{i % 12}#{name}{i}",
                correct=agreed == right,
                proposal_correct=right,
                agreed_with_proposal=agreed,
            )
            run.producer.produce(
                run.settings.topics.corrections, key=correction.id.encode(), value=correction.wire_json()
            )
    assert run.producer.flush(30) == 0
    run.send(stream(ann=30, bo=10), "r")
    state = run.version(40)
    reviewers = state["gold_bound"]["reviewers"]
    assert list(reviewers) == ["bo", "ann"] and reviewers == oracle.state()["reviewers"], reviewers
    assert state["gold_bound"]["stream"] == {"ann": 30, "bo": 10}, state["gold_bound"]["stream"]
    bars = {name: oracle.answer_bar(0.95, name) for name in ("ann", "bo")}
    assert bars["ann"] is not None and bars["bo"] is not None and 0.95 < bars["ann"] < bars["bo"] < 1.0, bars
    assert "a" in bets(state), "the answers were bet on (against each reviewer's bar)"
