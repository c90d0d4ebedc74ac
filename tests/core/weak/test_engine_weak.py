"""The engine with labeling functions: votes in routing, learning from answers, state across model versions."""

import pytest

from labelstream.core.build import build_engine, build_weak
from labelstream.core.engine import ANSWERED_MIX_STATE_KEY, WEAK_STATE_KEY, LabelingEngine
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Evidence, Prediction, ThresholdPolicy
from labelstream.core.schemas import Record
from labelstream.core.weak import LabelingFunction, WeakSupervision
from labelstream.settings import load_settings


def records(*xs: float) -> list[Record]:
    return [Record(id=str(i), features={"x": x}) for i, x in enumerate(xs)]


def engine_with(lfs, policy=None) -> LabelingEngine:
    policy = policy or ThresholdPolicy(0.7, cold_start_records=0, cold_start_corrections=0)
    return LabelingEngine(OnlineModel(seed=1), policy, weak=WeakSupervision.build(lfs, batch_timeout=None))


POSITIVE = LabelingFunction("positive", lambda r: "pos" if r.features["x"] > 0 else None)
CONTRARY = LabelingFunction("contrary", lambda r: "neg" if r.features["x"] > 0 else "pos")


def test_routed_records_carry_votes_and_the_label_model_learns_from_answers():
    engine = engine_with([POSITIVE, CONTRARY])
    for _ in range(60):
        for record, label in zip(records(1.0, -1.0), ["pos", "neg"], strict=True):
            engine.learn(record, label)  # the LFs vote on the record now
    accuracy = engine.weak.combiner.accuracy()
    assert accuracy["positive"] > 0.95 and accuracy["contrary"] < 0.05
    routed = engine.process(records(2.0, -2.0))
    assert [r.votes for r in routed] == [{"positive": "pos", "contrary": "neg"}, {"contrary": "pos"}]
    assert [r.method for r in routed] == ["weak", "weak"]
    assert [r.prediction.label for r in routed] == ["pos", "neg"]  # the contrary LF's vote counts against it


def test_learning_from_routing_time_votes_does_not_call_the_lfs_again():
    calls = []
    counting = LabelingFunction("counting", lambda r: calls.append(r.id) or "pos")
    engine = engine_with([counting])
    engine.learn(records(1.0)[0], "pos", votes={"counting": "pos"})
    engine.learn({"x": 1.0}, "pos")  # features only: the label model cannot learn, the model does
    assert calls == []
    assert engine.weak.answered.answered == 1 and engine.model.n_learned == 2


def test_without_lfs_nothing_changes():
    engine = build_engine(load_settings())
    assert engine.weak is None
    routed = engine.process(records(1.0))
    assert routed[0].votes is None and routed[0].method == "auto"
    assert WEAK_STATE_KEY not in engine.learned_state()


def test_the_label_model_travels_in_the_policy_state_and_the_policy_never_sees_it():
    settings = load_settings(weak={"functions": ["lfs_for_tests"], "batch_timeout_ms": None})
    learner, labeler = build_engine(settings), build_engine(settings)
    for _ in range(50):
        learner.learn(records(1.0)[0], "pos", Evidence(Prediction.from_probabilities({"pos": 0.9, "neg": 0.1}), "pos"))
    state = learner.learned_state()
    assert set(state) - {WEAK_STATE_KEY, ANSWERED_MIX_STATE_KEY} == set(learner.policy.learned_state())
    seen = {}
    labeler.policy.load_learned_state = lambda policy_state: seen.update(policy_state)
    labeler.swap_model(learner.model, learner.featurizer, state, 2)
    assert WEAK_STATE_KEY not in seen and "calibration" in seen
    assert labeler.weak.combiner.accuracy() == pytest.approx(learner.weak.combiner.accuracy())
    assert labeler.weak.answered.answered == 50


def test_relabel_combines_the_votes_too():
    engine = engine_with([POSITIVE], ThresholdPolicy(0.9, cold_start_records=0, cold_start_corrections=0))
    for _ in range(30):
        engine.learn(records(1.0)[0], "pos")
        engine.learn(records(-1.0)[0], "neg")
    plain = engine.model.predict_proba_one(engine.featurizer.transform_one({"x": 0.05}))
    relabel = engine.relabel(records(0.05), ["over_budget"], [None])
    combined = relabel.labeled[0][1] if relabel.labeled else None
    assert plain["pos"] < 0.9 and combined is not None and combined.probabilities["pos"] > plain["pos"]


def test_build_weak_maps_the_settings():
    weak = build_weak(load_settings(weak={"functions": ["lfs_for_tests:pair"], "combine": "majority",
                                          "call_timeout_ms": 20, "batch_timeout_ms": 500}).weak)
    assert weak.names == ["positive", "negative_rule"] and weak.combiner.name == "majority"
    assert weak.applier.call_timeout == 0.02 and weak.applier.batch_timeout == 0.5
    assert build_weak(load_settings().weak) is None
