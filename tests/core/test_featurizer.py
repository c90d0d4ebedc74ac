"""Missing values: absent, None, NaN and infinite features are one thing, the same in the compiled and river paths."""

from __future__ import annotations

import math
import random

import pytest

from labelstream.core.engine import LabelingEngine
from labelstream.core.model import OnlineModel
from labelstream.core.policy import ThresholdPolicy

MISSING = [None, math.nan, math.inf, -math.inf]


def trained_engine() -> LabelingEngine:
    engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.6, cold_start_records=0, cold_start_corrections=0))
    rng = random.Random(1)
    for _ in range(200):
        x, y = rng.gauss(0, 1), rng.gauss(0.5, 2)  # y's mean is not 0: a missing y is not a y of 0
        engine.learn({"x": x, "y": y, "colour": rng.choice(["red", "blue"])}, "pos" if x + 0.3 * y > 0 else "neg")
    return engine


@pytest.mark.parametrize("missing", MISSING, ids=repr)
def test_a_missing_value_scores_the_same_in_the_compiled_and_the_river_path(missing):
    engine = trained_engine()
    record = {"x": 0.4, "y": missing, "colour": "red"}
    one = engine.predict([record])[0].probabilities  # below 16 records: river, one by one
    batch = engine.predict([record] * 32)[0].probabilities  # the compiled default model
    absent = engine.predict([{"x": 0.4, "colour": "red"}])[0].probabilities
    assert all(math.isfinite(p) for p in one.values()), one
    assert one.keys() == batch.keys() == absent.keys()
    assert all(abs(one[k] - batch[k]) < 1e-12 and abs(one[k] - absent[k]) < 1e-12 for k in one), (one, batch, absent)


def test_a_missing_value_learned_leaves_the_model_sound():
    engine = trained_engine()
    for missing in MISSING:
        engine.learn({"x": 1.0, "y": missing}, "pos")
    probabilities = engine.predict([{"x": 0.4, "y": 1.0}])[0].probabilities
    assert all(math.isfinite(p) for p in probabilities.values()), probabilities
    assert engine.model.n_learned == 200 + len(MISSING)


def test_a_value_of_another_type_is_still_an_error():
    with pytest.raises(TypeError):
        trained_engine().featurizer.transform_one({"x": [1.0]})


def test_lazy_inputs_make_each_input_once_when_asked():
    from labelstream.core.featurizer import Featurizer, LazyInputs

    made = []

    class Counting(Featurizer):
        def transform_one(self, features):
            made.append(features)
            return super().transform_one(features)

    batch = [{"x": 1}, {"c": "red"}, {"x": 2.5}]
    inputs = LazyInputs(Counting(), batch)
    assert len(inputs) == 3 and made == []
    assert inputs[1] == {"c=red": 1.0} and inputs[-2] is inputs[1] and made == [batch[1]]
    assert list(inputs) == Featurizer().transform_many(batch) and inputs[1:] == [{"c=red": 1.0}, {"x": 2.5}]
    assert len(made) == 3
