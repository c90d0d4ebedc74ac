"""InputMatrix: the matrix of featurize -> feature_matrix, built column by column, equal in every case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelstream.core.compiled import feature_matrix
from labelstream.core.compiled_inputs import InputMatrix
from labelstream.core.featurizer import Featurizer

NAMES = ["x", "y", "z", "colour", "size", "colour=red", "w#3"]
ONE_HOT = {name: i for i, name in enumerate(["colour=blue", "colour=red", "size=L", "x", "y", "z", "w#3", "v=1"])}


def per_record(index, batch, featurizer):
    return feature_matrix(index, featurizer.transform_many(batch))


def assert_same(index, batch, encoding="one_hot", buckets=8):
    featurizer = Featurizer(encoding, hash_buckets=buckets)
    inputs = InputMatrix(index, encoding, buckets)
    for _ in range(2):  # the second time from the caches
        got = inputs.build(batch)
        assert got.shape == (len(batch), len(index))
        assert np.array_equal(got, per_record(index, batch, featurizer), equal_nan=True)


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70), st.booleans(), st.none(),
    st.sampled_from(["red", "blue", "L", "S", "1", "=x"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(NAMES), values, max_size=6), min_size=1, max_size=40),
    st.integers(1, 60),
)
def test_any_batch_gives_the_per_record_matrix(batch, copies):
    """Random feature mappings (every value type the featurizer takes, names that collide with indicators),
    each repeated so that groups form: the group way and the row way alike."""
    batch = [dict(features) for features in batch for _ in range(copies % 5 + 1)]
    assert_same(ONE_HOT, batch)
    hashed = {f"colour#{b}": b for b in range(8)} | {f"size#{b}": 8 + b for b in range(8)} | {"x": 16, "y": 17}
    assert_same(hashed, batch, "hashed", 8)


def test_a_plain_batch_is_built_a_group_at_a_time():
    batch = [{"x": float(i), "y": i, "colour": "red" if i % 2 else "green", "extra": 1.0} for i in range(64)]
    batch[5] = {"y": 2.0, "x": 1.0, "colour": "blue"}  # another order, a field less
    inputs = InputMatrix(ONE_HOT)
    got = inputs.build(batch)
    assert np.array_equal(got, per_record(ONE_HOT, batch, Featurizer()), equal_nan=True)
    assert len(inputs._layouts) == 2 and inputs._categories == {"colour": {"red": 1, "blue": 0}}


@pytest.mark.parametrize("odd", [None, "text", 2**64, math.nan, math.inf, True, -3])
def test_a_value_unlike_its_groups_takes_the_row_way(odd):
    batch = [{"x": 1.5, "y": 2.0, "colour": "red"} for _ in range(32)]
    batch[7] = {"x": odd, "y": 2.0, "colour": "red"}
    batch[9] = {"x": 1.5, "y": 2.0, "colour": 0.5 if odd is None else odd}
    assert_same(ONE_HOT, batch)


def test_a_value_the_featurizer_refuses_raises_as_it_does():
    with pytest.raises(TypeError):
        Featurizer().transform_one({"x": [1]})
    with pytest.raises(TypeError):
        InputMatrix(ONE_HOT).build([{"x": [1]}] * 20)


def test_an_empty_batch_and_empty_features():
    assert InputMatrix(ONE_HOT).build([]).shape == (0, len(ONE_HOT))
    assert_same(ONE_HOT, [{}] * 20)


def test_a_batch_all_alike_from_the_cache_and_with_a_value_the_model_does_not_know():
    batch = [{"x": float(i), "colour": ["red", "blue"][i % 2], "size": "L"} for i in range(40)]
    assert_same(ONE_HOT, batch)  # one group; the second build takes every column from the cache
    batch[3] = {"x": 3.0, "colour": "green", "size": "L"}
    assert_same(ONE_HOT, batch)
