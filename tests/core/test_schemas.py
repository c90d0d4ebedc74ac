import pytest
from pydantic import ValidationError

from labelstream.core.schemas import TOPIC_MODELS, Correction, DeadLetter, Label, Record


def test_record_accepts_numbers_and_strings():
    record = Record(id="a", features={"n": 1, "f": 2.5, "c": "red", "b": True})
    assert record.features == {"n": 1, "f": 2.5, "c": "red", "b": 1}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), [1], {"a": 1}, None, 2**70])
def test_record_rejects_bad_feature_values(value):
    with pytest.raises(ValidationError):
        Record(id="a", features={"x": value})


def test_record_requires_id_and_keeps_unknown_fields_in_metadata():
    with pytest.raises(ValidationError, match="id"):
        Record.model_validate({"features": {"x": 1}})
    assert Record.model_validate({"id": "a", "features": {"x": 1}, "colour": "red"}).metadata == {"colour": "red"}
    with pytest.raises(ValidationError, match="colour: a field the record schema does not know"):
        Record.model_validate({"id": "a", "features": {"x": 1}, "colour": "red"}, context={"unknown_fields": "reject"})


def test_every_topic_value_is_versioned():
    for model in TOPIC_MODELS.values():
        assert model.model_fields["schema_version"].default == 1


def test_label_method_is_checked():
    with pytest.raises(ValidationError):
        Label(id="a", label="x", confidence=0.5, method="guess")


def test_dead_letter_keeps_original_bytes():
    letter = DeadLetter.from_raw(b"\xff\x00raw", b"k", "invalid_json", "bad", "records", "labeler", 1, 7)
    assert letter.raw_bytes() == b"\xff\x00raw"
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter


def test_correction_needs_a_label():
    with pytest.raises(ValidationError):
        Correction(id="a", label="")


def test_correction_follows_the_schema_evolution_rule():
    """A newer writer's minor version and added field are read; another major or an unknown kind is refused."""
    newer = Correction.model_validate_json(b'{"schema_version": "1.4", "id": "a", "label": "x", "rubric": [1, 2]}')
    assert (newer.schema_version, newer.label, newer.model_dump().keys() - Correction.model_fields.keys()) == (1, "x", set())
    with pytest.raises(ValidationError, match="major version 2"):
        Correction.model_validate_json(b'{"schema_version": "2.0", "id": "a", "label": "x"}')
    with pytest.raises(ValidationError, match="kind"):
        Correction.model_validate_json(b'{"id": "a", "label": "x", "kind": "vote"}')
