"""The learner's AnswerLearner on gold answers: only the policy hears of them (learn_gold), never the model."""

from __future__ import annotations

import asyncio

from labelstream.core.build import build_engine
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.schemas import Correction
from labelstream.learner.answers import AnswerLearner
from labelstream.learner.context import LearnerContext
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.metrics import Metrics
from labelstream.settings import Settings


class NoStore:
    """A record store a gold answer must never read (its id is a gold item's, not a routed record's)."""

    def get(self, record_id: str) -> None:
        raise AssertionError(f"the record store was read for {record_id!r}")


class GoldPolicy:
    """The policy part a gold answer reaches: learn_gold(correct)."""

    def __init__(self) -> None:
        self.gold: list[bool] = []

    def learn_gold(self, correct: bool) -> None:
        self.gold.append(correct)


class ProposalPolicy:
    """The interface of schema 1.2: learn_gold(correct, model_right=None, agreed=None), keywords recorded as passed."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, dict[str, bool]]] = []

    def learn_gold(self, correct: bool, model_right: bool | None = None, agreed: bool | None = None) -> None:
        passed = {"model_right": model_right, "agreed": agreed}
        self.calls.append((correct, {k: v for k, v in passed.items() if v is not None}))


class AnyKeywordPolicy:
    """A learn_gold that takes any keyword (**shown): it gets exactly those the correction has."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, dict[str, bool]]] = []

    def learn_gold(self, correct: bool, **shown: bool) -> None:
        self.calls.append((correct, shown))


def learner_of(engine) -> AnswerLearner:  # noqa: ANN001
    settings = Settings()
    context = LearnerContext(engine, Pending(), RedisRetry(), Metrics.from_settings("learner", settings.metrics), events=None)
    return AnswerLearner(context, NoStore(), None, None, {"labels": None, "review": None}, None, "m")


def gold(answer_id: str, correct: bool, proposal_correct: bool | None = None, agreed: bool | None = None) -> Correction:
    return Correction(id="g1", label="cat", reviewer="ana", answer_id=answer_id, kind="gold", correct=correct,
                      proposal_correct=proposal_correct, agreed_with_proposal=agreed)


SHOWN = [  # (correct, proposal right, agreed): a wrong proposal taken, refused, a right one taken, none shown
    gold("a#1", False, False, True), gold("b#1", True, False, False), gold("c#1", True, True, True), gold("d#1", True)]


def learn_all(learner: AnswerLearner, corrections: list[Correction]) -> list[object]:
    async def run() -> list[object]:
        return [await learner.learn(c, "corrections-0", offset) for offset, c in enumerate(corrections)]
    return asyncio.run(run())


def test_a_gold_answer_reaches_learn_gold_and_is_counted_never_learned_nor_looked_up():
    engine = build_engine(Settings())
    engine.policy = policy = GoldPolicy()
    learner = learner_of(engine)
    results = learn_all(learner, [gold("a#1", True), gold("b#1", False), gold("c#1", True)])
    assert results == [None, None, None]  # handled: not dead-lettered
    assert policy.gold == [True, False, True]
    assert engine.model.n_learned == 0 and learner.pending.corrections_applied == 0
    assert learner.pending.offsets == {"corrections-0": 3}  # the offsets advance: a snapshot holds them
    value = learner.metrics.registry.get_sample_value
    assert value("labelstream_corrections_total", {"result": "gold_right"}) == 2
    assert value("labelstream_corrections_total", {"result": "gold_wrong"}) == 1


def test_a_policy_without_learn_gold_only_counts_it():
    engine = build_engine(Settings())
    learner = learner_of(engine)
    engine.policy = object()  # a policy that does not measure reviewers
    assert learn_all(learner, [gold("a#1", False)]) == [None]
    assert learner.metrics.registry.get_sample_value("labelstream_corrections_total", {"result": "gold_wrong"}) == 1


def test_a_gold_answer_shown_with_a_proposal_tells_learn_gold_whether_it_was_right_and_taken():
    for policy in (ProposalPolicy(), AnyKeywordPolicy()):
        engine = build_engine(Settings())
        engine.policy = policy
        assert learn_all(learner_of(engine), SHOWN) == [None] * 4
        assert policy.calls == [(False, {"model_right": False, "agreed": True}), (True, {"model_right": False, "agreed": False}),
                                (True, {"model_right": True, "agreed": True}), (True, {})]  # no proposal: no keyword


def test_a_policy_whose_learn_gold_takes_only_correct_gets_only_correct():
    engine = build_engine(Settings())
    engine.policy = policy = GoldPolicy()
    assert learn_all(learner_of(engine), SHOWN) == [None] * 4
    assert policy.gold == [False, True, True, True]


def test_the_contract_policy_measures_reviewers_on_gold_answers():
    settings = Settings(policy={"reviewer_accuracy_from_gold": True})
    engine = build_engine(settings)
    assert isinstance(engine.policy, ContractPolicy)
    # whatever its learn_gold takes (correct alone, or the proposal's keywords too), the proposal fields are fine
    learn_all(learner_of(engine), [gold(f"g{i}#1", i % 4 != 0, *((i % 2 == 0, i % 3 == 0) if i % 5 else (None, None)))
                                   for i in range(20)])
    bound = engine.policy.evidence.gold_bound
    assert (bound.answers, bound.right) == (20, 15) and engine.model.n_learned == 0


def test_the_conditional_gold_bound_learns_the_proposal_fields_the_review_service_publishes():
    settings = Settings(policy={"reviewer_accuracy_from_gold": True, "gold_bound": "conditional"})
    engine = build_engine(settings)
    # 12 answers to right proposals (9 agreeing), 5 to wrong ones (2 taken), 3 shown no proposal (not counted)
    answers = ([gold(f"r{i}#1", i < 9, True, i < 9) for i in range(12)]
               + [gold(f"w{i}#1", False, False, i < 2) for i in range(5)]
               + [gold(f"n{i}#1", True) for i in range(3)])
    learn_all(learner_of(engine), answers)
    bound = engine.policy.evidence.gold_bound
    assert (bound.right_bound.answers, bound.right_bound.right) == (12, 9)
    assert (bound.wrong_bound.answers, bound.wrong_bound.right) == (5, 2)
    assert engine.model.n_learned == 0


def test_the_weighted_gold_bound_counts_gold_per_reviewer_and_evidence_names_who_answered():
    """policy.gold_bound 'weighted': gold answers counted under their reviewer's name; a stream answer's evidence
    carries its reviewer (a consensus's is 'consensus', which no gold answer carries: held to the target's own bar),
    or, with the overlap bound on, the first answer and the reviewer who gave it."""
    engine = build_engine(Settings(policy={"reviewer_accuracy_from_gold": True, "gold_bound": "weighted"}))
    learner = learner_of(engine)
    learn_all(learner, [Correction(id="g1", label="cat", reviewer=("ana", "bo")[i % 2], answer_id=f"g1#{i}",
                                   kind="gold", correct=i % 4 != 1) for i in range(20)])
    assert {name: counts[:2] for name, counts in engine.policy.gold_bound.reviewers.items()} == {
        "ana": (10, 10), "bo": (10, 5)}
    assert learner._evidence_answer(Correction(id="r1", label="cat", reviewer="bo")) == ("cat", "bo")
    consensus = Correction(id="r2", label="dog", reviewer="consensus", kind="consensus",
                           answers={"bo": "cat", "ana": "dog", "cy": "dog"})
    assert learner._evidence_answer(consensus) == ("dog", "consensus")
    assert engine.policy.evidence.reviewer_bar("consensus") == engine.policy.calibrator.target_precision
    both = build_engine(Settings(policy={"reviewer_accuracy_from_gold": True, "gold_bound": "weighted",
                                         "reviewer_accuracy_from_overlap": True}))
    assert learner_of(both)._evidence_answer(consensus) == ("cat", "bo")
