"""Self-training: the engine teaches the model its surest auto-labels only, lighter than answers, audits permitting."""

from labelstream.core.engine import LabelingEngine
from labelstream.core.model import OnlineModel
from labelstream.core.policy import ThresholdPolicy
from labelstream.core.schemas import Record
from labelstream.core.self_training import SelfTraining


def trained_engine(trainer):
    engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.6, cold_start_records=0, cold_start_corrections=0),
                            self_training=trainer)
    for _ in range(40):
        engine.learn({"x": 2.0}, "pos")
        engine.learn({"x": -2.0}, "neg")
    return engine


def test_only_sure_auto_labels_are_learned_and_they_are_not_answers():
    engine = trained_engine(SelfTraining(min_confidence=0.85, weight=0.5, target=0.9))
    routed = engine.process([Record(id=str(i), features={"x": x}) for i, x in enumerate([3.0, 1.0, 0.0, -3.0])])
    sure = [r.prediction.confidence >= 0.85 for r in routed]
    assert [r.decision.outcome for r in routed] == ["label", "label", "review", "label"]
    assert sure == [True, False, False, True]
    before = engine.model.n_learned
    assert engine.learn_auto(routed) == 2
    assert engine.model.n_learned == before  # the cold start counts human answers only
    assert engine.self_training.learned == 2


def test_a_lighter_weight_moves_the_model_less():
    moved = {}
    for weight in (0.2, 1.0):
        engine = trained_engine(SelfTraining(min_confidence=0.0, weight=weight, target=0.9))
        record = Record(id="1", features={"x": 3.0})
        before = engine.model.predict_proba_one({"x": 3.0})["pos"]
        routed = engine.process([record])
        for _ in range(20):
            engine.learn_auto(routed)
        moved[weight] = engine.model.predict_proba_one({"x": 3.0})["pos"] - before
    assert 0 < moved[0.2] < moved[1.0]
