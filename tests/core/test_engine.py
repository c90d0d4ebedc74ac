"""LabelingEngine.learn with the caller's model input (``x``): the same learning, featurized once."""

from __future__ import annotations

import random

from labelstream.core.build import build_engine
from labelstream.core.schemas import Record
from labelstream.settings import load_settings


def _answers(n: int, text: bool = False) -> list[tuple[Record, str]]:
    rng = random.Random(5)
    out = []
    for i in range(n):
        a, b = rng.uniform(0, 10), rng.uniform(0, 10)
        label = "low" if a + b <= 10 else "high"
        out.append((Record(id=f"r{i}", features={"a": a, "b": b}, text=f"{label} ticket {i}" if text else None), label))
    return out


def _probe(engine) -> list[dict[str, float]]:
    return [engine.model.predict_proba_one(engine.model_input(r)) for r, _ in _answers(20)]


def test_the_callers_model_input_teaches_the_model_what_featurizing_again_would():
    given, again = build_engine(load_settings()), build_engine(load_settings())  # default text featurizer (tfidf) too
    for record, label in _answers(200):
        given.learn(record, label, x=given.model_input(record))
        again.learn(record, label)
    assert _probe(given) == _probe(again)
    assert given.model.n_learned == again.model.n_learned == 200


def test_a_record_with_text_is_featurized_after_the_featurizer_learns_it_whatever_x_is_given():
    given, again = build_engine(load_settings()), build_engine(load_settings())
    for record, label in _answers(100, text=True):
        given.learn(record, label, x={"wrong": 1.0})  # ignored: TF-IDF learns the record first
        again.learn(record, label)
    assert _probe(given) == _probe(again)


def test_a_batch_predicted_from_its_features_routes_as_its_model_inputs_do():
    """The columnar path (the default) against featurize -> predict: equal predictions and decisions, under
    a policy that reads every model input (the threshold's per-record decide) and a committee that reads
    the auto-labels' inputs; a small batch takes the per-record inputs."""
    from labelstream.core.committee import Committee
    from labelstream.core.engine import LabelingEngine
    from labelstream.core.featurizer import Featurizer
    from labelstream.core.model import OnlineModel
    from labelstream.core.policy import ThresholdPolicy

    rng = random.Random(4)
    engines = []
    for columnar in (True, False):
        members = [OnlineModel("gaussian_nb"), OnlineModel("logistic", seed=2)]
        engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.8, cold_start_records=0, cold_start_corrections=0),
                                Featurizer(), committee=Committee(members), columnar=columnar)
        engines.append(engine)
    for _ in range(300):
        x = {"a": rng.gauss(0, 1), "b": rng.randrange(3), "c": rng.choice(["u", "v", "w"])}
        label = "p" if x["a"] + (x["c"] == "u") > 0.5 else "n"
        for engine in engines:
            engine.learn(x, label)
    records = [Record(id=str(i), features={"a": rng.gauss(0, 2), "b": rng.randrange(4), "c": rng.choice("uvwz")})
               for i in range(200)]
    records[7] = Record(id="7", features={"c": "u", "a": 1.0})
    reasons = set()
    for batch in (records, records[:5]):
        got, expected = (engine.process(batch) for engine in engines)
        assert [(r.prediction, r.decision) for r in got] == [(r.prediction, r.decision) for r in expected]
        reasons |= {r.decision.reason for r in got}
    assert {"confident", "disagreement", "uncertain"} <= reasons, reasons
