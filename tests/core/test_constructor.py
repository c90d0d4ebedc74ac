"""slots_constructor makes the object the dataclass's __init__ makes, and refuses classes where it would not."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from labelstream.core.constructor import slots_constructor
from labelstream.core.engine import Routed
from labelstream.core.policy.base import Decision, Prediction
from labelstream.core.schemas import Record


@pytest.mark.parametrize(("cls", "values"), [
    (Prediction, ({"a": 0.25, "b": 0.75}, "b", 0.75)),
    (Decision, ("review", "audit", 0.05, 1.0, {"p_review": 0.05})),
    (Routed, (Record(id="r", features={"x": 1.0}), Prediction({"a": 1.0}, "a", 1.0), Decision("label", "confident"), None)),
])
def test_the_same_object_as_the_dataclass_makes(cls, values):
    made, expected = slots_constructor(cls)(*values), cls(*values)
    assert type(made) is cls and made == expected and repr(made) == repr(expected) and hash(repr(made)) == hash(repr(expected))
    assert [getattr(made, f.name) for f in dataclasses.fields(cls)] == list(values)
    assert all(getattr(made, f.name) is value for f, value in zip(dataclasses.fields(cls), values, strict=True))
    assert pickle.loads(pickle.dumps(made)) == expected and copy.deepcopy(made) == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, dataclasses.fields(cls)[0].name, None)  # still frozen
    with pytest.raises(TypeError):
        slots_constructor(cls)(*values[:-1])  # every field is passed


def test_refuses_what_init_does_more_for_or_that_has_no_slots():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: float

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError

    @dataclasses.dataclass(frozen=True)
    class Plain:
        x: float

    @dataclasses.dataclass(frozen=True, slots=True)
    class Shadowing:
        obj: int

    for cls in (Checked, Plain, Shadowing, dict):
        with pytest.raises(TypeError):
            slots_constructor(cls)
