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
