"""The fast encoders write exactly what the pydantic models would."""

import orjson

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
