"""The default model sees categorical features (the scaler once zeroed their indicators)."""

import random

import pytest

from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel


@pytest.mark.parametrize("encoding", ["one_hot", "hashed"])
def test_a_label_given_by_a_category_alone_is_learned(encoding):
    # the label is the colour; the number is noise. Before the fix river's scaler turned every
    # indicator into 0 (mean 1, variance 0 over the records carrying it): accuracy was a coin toss.
    featurizer, model, rng = Featurizer(encoding, hash_buckets=64), OnlineModel(seed=1), random.Random(3)
    stream = [({"colour": c, "noise": rng.gauss(0, 1)}, "warm" if c in ("red", "orange") else "cold")
              for c in rng.choices(["red", "orange", "blue", "green"], k=600)]
    for features, label in stream[:400]:
        model.learn_one(featurizer.transform_one(features), label)
    held_out = stream[400:]
    xs = [featurizer.transform_one(features) for features, _ in held_out]
    for probabilities in (model.predict_proba_many(xs), [model.predict_proba_one(x) for x in xs]):  # compiled, plain
        right = sum(max(p, key=p.get) == label for p, (_, label) in zip(probabilities, held_out, strict=True))
        assert right / len(held_out) > 0.95
