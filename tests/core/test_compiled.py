"""The compiled default model predicts what river predicts, one record at a time."""

from river import datasets

from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel


def test_compiled_batches_equal_river_one_by_one_on_a_multiclass_stream():
    featurizer = Featurizer()
    model = OnlineModel("logistic", seed=3)
    rows = list(datasets.ImageSegments())
    xs = [featurizer.transform_one({**x, "colour": ("red", "blue")[i % 2]}) for i, (x, _) in enumerate(rows)]
    for x, (_, y) in zip(xs[:1500], rows[:1500], strict=True):
        model.learn_one(x, y)
    # drop some features from some records: absent features must contribute nothing, as in river
    batch = [{k: v for j, (k, v) in enumerate(x.items()) if (i + j) % 7} for i, x in enumerate(xs[1500:1900])]
    fast = model.predict_proba_many(batch)
    slow = [model.predict_proba_one(x) for x in batch]
    assert len(fast) == len(slow) == 400
    for f, s in zip(fast, slow, strict=True):
        assert f.keys() == s.keys()
        assert all(abs(f[k] - s[k]) < 1e-9 for k in s)


def test_compiled_weights_follow_learning():
    model = OnlineModel("logistic", seed=1)
    batch = [{"x": 1.0}] * 20
    for _ in range(5):
        model.learn_one({"x": 1.0}, "a")
        model.learn_one({"x": -1.0}, "b")
    before = model.predict_proba_many(batch)[0]["a"]
    for _ in range(50):
        model.learn_one({"x": 1.0}, "a")
    assert model.predict_proba_many(batch)[0]["a"] > before


def test_compiled_predictions_equal_the_arg_max_of_the_probabilities():
    """predict_many (NumPy's arg-max over the batch) is Prediction.from_probabilities of each row."""
    from labelstream.core.policy import Prediction

    model = OnlineModel("logistic", seed=2)
    for i in range(40):
        model.learn_one({"x": 1.0, "c=a": float(i % 2)}, "a")
        model.learn_one({"x": -1.0}, "b")
        model.learn_one({"y": 1.0}, "c")
    batch = [{"x": v / 10, "y": (v % 3) / 2} for v in range(-20, 20)] + [{}] * 3
    predictions = model.predict_many(batch)
    assert predictions == [Prediction.from_probabilities(p) for p in model.predict_proba_many(batch)]
    assert len({p.label for p in predictions}) == 3


def test_row_predictions_made_many_at_once_are_those_made_one_by_one():
    from labelstream.core.policy.base import RowPrediction

    rows = [[0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [float("nan"), 0.1, 0.9]]
    labels, confidences = ["b", "a", "c"], [0.75, 0.5, 0.9]
    many = RowPrediction.make_many(("a", "b", "c"), rows, iter(labels), iter(confidences))
    one = [RowPrediction.make(("a", "b", "c"), *args) for args in zip(rows, labels, confidences, strict=True)]
    fields = ("label", "confidence", "_classes", "probability_values")
    assert [type(p) for p in many] == [RowPrediction] * 3
    assert [[getattr(p, f) for f in fields] for p in many] == [[getattr(p, f) for f in fields] for p in one]
    assert all(m.probability_values is o.probability_values for m, o in zip(many, one, strict=True))
    assert [repr(p) for p in many] == [repr(p) for p in one]
