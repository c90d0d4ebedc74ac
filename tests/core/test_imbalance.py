"""Class imbalance: balanced weights find the rare class; the answered mix travels to the labeler's monitor."""

import random

from labelstream.core.engine import LabelingEngine
from labelstream.core.imbalance import ClassMixMonitor, ClassWeights
from labelstream.core.model import OnlineModel
from labelstream.core.policy import ThresholdPolicy
from labelstream.core.schemas import Record


def rare_stream(seed, n):
    rng = random.Random(seed)
    for _ in range(n):
        label = "rare" if rng.random() < 0.05 else "common"
        yield {"x": rng.gauss(1.0 if label == "rare" else 0.0, 1.0)}, label


def test_balanced_weights_recall_more_of_the_rare_class():
    recall = {}
    for weights in (None, ClassWeights(max_weight=10.0)):
        engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(), class_weights=weights)
        for features, label in rare_stream(1, 2000):
            engine.learn(features, label)
        held = [(f, y) for f, y in rare_stream(2, 2000) if y == "rare"]
        predictions = engine.predict([f for f, _ in held])
        recall[weights is not None] = sum(p.label == "rare" for p in predictions) / len(held)
    assert recall[False] < 0.2 < 0.5 < recall[True]


def test_the_labeler_compares_its_auto_labels_with_the_learners_answers():
    policy = ThresholdPolicy(0.6, cold_start_records=0, cold_start_corrections=0)
    learner = LabelingEngine(OnlineModel(seed=1), policy, class_mix=ClassMixMonitor(window=50))
    labeler = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.6, cold_start_records=0, cold_start_corrections=0),
                             class_mix=ClassMixMonitor(window=50))
    for _ in range(25):
        learner.learn({"x": 2.0}, "pos"), learner.learn({"x": -2.0}, "neg")
    labeler.swap_model(learner.model, learner.featurizer, learner.learned_state(), 2)
    labeler.process([Record(id=str(i), features={"x": 3.0}) for i in range(10)])  # all auto-labeled pos
    assert labeler.class_mix.shares() == {"neg": {"auto": 0.0, "answered": 0.5}, "pos": {"auto": 1.0, "answered": 0.5}}
    assert labeler.class_mix.distance() == 0.5


def test_the_rare_class_reserve_is_taken_from_the_policys_budget():
    from labelstream.core.build import build_engine
    from labelstream.settings import load_settings

    engine = build_engine(load_settings(policy={"review_budget_share": 0.3}, imbalance={"rare_budget_share": 0.2}))
    assert engine.policy.budget.share + engine.rare_reserve.budget.share == 0.3
    assert engine.rare_reserve.budget.share == 0.3 * 0.2
    assert build_engine(load_settings()).rare_reserve is None
