"""Instances of a frozen slotted dataclass made without its ``__init__``: for the objects made once a record.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (it must get past the
class's own ``__setattr__``, which refuses). A slotted class's fields are member descriptors: setting them
directly makes the same object at less than half the cost (a four-field :class:`Routed`: ~0.3 vs ~0.75 us).
Only for classes whose ``__init__`` does nothing but store its arguments (no ``__post_init__``, no
``InitVar``); every field is passed, in the class's order.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True, slots=True)
... class Point:
...     x: float
...     y: float = 0.0
>>> make = slots_constructor(Point)
>>> make(1.0, 2.0), make(1.0, 2.0) == Point(1.0, 2.0)
(Point(x=1.0, y=2.0), True)
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Any


def slots_constructor(cls: type) -> Callable[..., Any]:
    """A function of every field of ``cls`` (positional, in order) making the instance its ``__init__`` would."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__") or cls.__new__ is not object.__new__:
        raise TypeError(f"{cls.__name__}: not a dataclass whose __init__ only stores its fields")
    names = [field.name for field in dataclasses.fields(cls)]
    if {"new", "cls", "obj"} & set(names):
        raise TypeError(f"{cls.__name__}: a field's name is one the constructor uses")
    if len(names) != len(getattr(cls, "__slots__", ())) or not all(isinstance(cls.__dict__.get(name), types.MemberDescriptorType) for name in names):
        raise TypeError(f"{cls.__name__}: fields are not all slots")
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"set_{name}": cls.__dict__[name].__set__ for name in names})
    body = "".join(f"    set_{name}(obj, {name})\n" for name in names)
    source = f"def make({', '.join(names)}):\n    obj = new(cls)\n{body}    return obj\n"
    exec(source, scope)  # noqa: S102 - code made from the field names only, as dataclasses makes __init__
    make = scope["make"]
    make.__doc__ = f"A {cls.__name__} from its fields ({', '.join(names)}), as {cls.__name__}(...) makes it."
    return make
