"""The fast encoders write exactly what the pydantic models would."""

import orjson
import pytest

from labelstream.core.encode import encode_deferred, encode_label, encode_review
from labelstream.core.schemas import Deferred, Label, Record, ReviewRequest

RAW = b'{"id": "r1", "features": {"x": 1.5, "c": "red"}, "source": "s"}'
RECORD = Record.model_validate_json(RAW)


def test_label():
    raw = encode_label("r1", "spam", 0.91, 4, "contract", 123.5, relabeled=True)
    expected = Label(id="r1", label="spam", confidence=0.91, method="auto", model_version=4, policy="contract", relabeled=True, timestamp=123.5)
    assert Label.model_validate_json(raw) == expected
    assert orjson.loads(raw) == orjson.loads(expected.model_dump_json())


def test_review_embeds_the_original_record():
    raw = encode_review(RAW, "r1", "spam", {"spam": 0.6, "ham": 0.4}, "uncertain", 0.4, 0.25, None, 9.0)
    expected = ReviewRequest(
        id="r1", record=RECORD, proposed_label="spam", probabilities={"spam": 0.6, "ham": 0.4}, reason="uncertain",
        priority=0.4, inclusion_probability=0.25, model_version=None, timestamp=9.0,
    )
    assert ReviewRequest.model_validate_json(raw) == expected
    assert set(orjson.loads(raw)) == set(orjson.loads(expected.model_dump_json()))  # every field written


def test_deferred():
    raw = encode_deferred(RAW, "r1", "over_budget", None, {}, 2, 9.0)
    expected = Deferred(id="r1", record=RECORD, reason="over_budget", proposed_label=None, probabilities={}, model_version=2, timestamp=9.0)
    assert Deferred.model_validate_json(raw) == expected


def test_review_carries_the_decision_context():
    context = {"model_version": 3, "generation": 1, "threshold": 0.9, "p_review": 0.02}
    raw = encode_review(RAW, "r1", "spam", {"spam": 0.95, "ham": 0.05}, "audit", 1.0, 0.02, 3, 9.0, context=context)
    assert ReviewRequest.model_validate_json(raw).context == context


def test_labels_in_bulk_are_byte_for_byte_the_single_encoder():
    import random

    from labelstream.core.encode import encode_labels

    rng = random.Random(3)
    ids = [f"r{i}" for i in range(50)] + ['quote"and\\slash', "ünï", "a" * 256]
    labels = [rng.choice(["spam", "ham", 'odd "name"', "1"]) for _ in ids]
    confidences = [rng.random() for _ in ids[:-1]] + [1.0]
    for version, policy, timestamp in ((7, "contract", 1.7e9 + 0.123456), (None, "threshold", 0.0)):
        bulk = encode_labels(ids, labels, confidences, version, policy, timestamp)
        assert bulk == [encode_label(*args, version, policy, timestamp) for args in zip(ids, labels, confidences, strict=True)]
    assert Label.model_validate_json(bulk[0]).confidence == confidences[0]


@pytest.mark.parametrize("size", [0, 1, 2, 40])
def test_labels_cut_out_of_one_dumps_are_those_encoded_one_by_one(size):
    """encode_labels writes each id and confidence cut out of one orjson.dumps of them all: byte for byte what
    encode_label writes, for ids holding the separators, quotes, backslashes (one last), control and other
    characters, and confidences NaN, infinite, -0.0, tiny and huge."""
    import random

    from labelstream.core.encode import encode_labels

    rng = random.Random(size)
    odd_ids = ['","', '"', "\\", 'a\\', 'a\\"', '\\","\\', ",", "", "\n\t\x00\x1f", "ünï 😀", '{"id":"x"}', "a" * 256, "[1,2]"]
    odd_numbers = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 1e-7, 1e16, 5e-324, 1.7976931348623157e308, 0.1, 1.0]
    ids = [rng.choice(odd_ids) + str(i) * rng.randrange(2) for i in range(size)]
    labels = [rng.choice(["spam", "", 'odd ","name"', "\\"]) for _ in range(size)]
    confidences = [rng.choice(odd_numbers) if rng.random() < 0.5 else rng.random() for _ in range(size)]
    bulk = encode_labels(ids, labels, confidences, 3, "contract", 1.5)
    assert bulk == [encode_label(*args, 3, "contract", 1.5) for args in zip(ids, labels, confidences, strict=True)]
    with pytest.raises(ValueError):
        encode_labels(ids + ["x"], labels, confidences, 3, "contract", 1.5)
    with pytest.raises(orjson.JSONEncodeError):
        encode_labels(["\ud800"], ["a"], [0.5], 3, "contract", 1.5)  # a lone surrogate: the router's per-record way
