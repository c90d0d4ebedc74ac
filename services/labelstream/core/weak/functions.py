"""Labeling functions: plain callables ``record -> label | ABSTAIN``, declared with a decorator.

A labeling function (LF) encodes a rule of thumb ("a URL in the text means
spam"); it may be wrong, and it may abstain. labelstream learns how often
each LF is right from the human answers (:mod:`labelstream.core.weak.label_model`).

Declare one with :func:`labeling_function` and register it by module path
in settings (``weak.functions = ["mypkg.lfs:has_url"]``, or ``"mypkg.lfs"``
for every LF declared in that module) or on the command line
(``labelstream simulate --lf mypkg.lfs:has_url``). An LF receives the
:class:`~labelstream.core.schemas.Record` (``features``, ``text``,
``metadata``) and returns a class label (a string; other values are turned
into strings) or :data:`ABSTAIN` (``None``).

>>> @labeling_function()
... def has_url(record):
...     return "spam" if "http" in (record.text or "") else ABSTAIN
>>> from labelstream.core.schemas import Record
>>> has_url.name, has_url(Record(id="1", features={}, text="win at http://x.io"))
('has_url', 'spam')
>>> has_url(Record(id="2", features={}, text="see you")) is ABSTAIN
True
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from labelstream.errors import ConfigError

ABSTAIN = None
"""What a labeling function returns when it has no opinion."""

_BY_MODULE: dict[str, list[LabelingFunction]] = {}


class LabelingFunction:
    """A named labeling function; calling it returns a label (``str``) or :data:`ABSTAIN`.

    Parameters
    ----------
    name
        Unique name (metrics, reports, the ``votes`` of a label).
    function
        ``record -> label | None``.
    labels
        The labels it can return, when known (documentation and ``lf stats``).
    """

    def __init__(self, name: str, function: Callable[[Any], Any], labels: Sequence[str] = ()) -> None:
        self.name = name
        self.function = function
        self.labels = tuple(str(label) for label in labels)

    def __call__(self, record: Any) -> str | None:
        vote = self.function(record)
        if vote is ABSTAIN:
            return ABSTAIN
        return vote if type(vote) is str else str(vote)

    def __repr__(self) -> str:
        return f"LabelingFunction({self.name!r})"


def labeling_function(
    name: str | None = None, labels: Sequence[str] = ()
) -> Callable[[Callable[[Any], Any]], LabelingFunction]:
    """Decorator: make ``function`` a :class:`LabelingFunction` and register it with its module.

    ``name`` defaults to the function's name; ``labels`` lists what it can return.
    """

    def wrap(function: Callable[[Any], Any]) -> LabelingFunction:
        lf = LabelingFunction(name or function.__name__, function, labels)
        module = getattr(function, "__module__", None) or "__main__"
        registered = _BY_MODULE.setdefault(module, [])
        registered[:] = [other for other in registered if other.name != lf.name] + [lf]
        return lf

    return wrap


def registered(module: str) -> list[LabelingFunction]:
    """The labeling functions declared (with the decorator) in ``module``, in declaration order."""
    return list(_BY_MODULE.get(module, []))


def resolve(path: str) -> list[LabelingFunction]:
    """The LFs a path names: ``"pkg.mod:attr"`` (one LF, or a list of them) or ``"pkg.mod"`` (all declared there).

    A plain callable is accepted and named after its attribute. A path that
    cannot be imported, or names nothing usable, raises :class:`ConfigError`.
    """
    module_name, _, attribute = path.partition(":")
    try:
        module = _import(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is a configuration error to report
        raise ConfigError(
            f"labeling function {path!r}: cannot import {module_name!r} ({type(exc).__name__}: {exc}); "
            "check weak.functions / --lf and that the module is on PYTHONPATH or in the current directory"
        ) from exc
    if not attribute:
        found = registered(module.__name__)
        if not found:
            raise ConfigError(f"labeling function {path!r}: no @labeling_function in module {module_name!r}")
        return found
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"labeling function {path!r}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    return _as_functions(target, path, attribute.rsplit(".", 1)[-1])


def _import(module_name: str) -> Any:
    """Import ``module_name``; one not found anywhere is looked for in the current directory too.

    ``python -m`` puts the current directory on ``sys.path``, a console script
    (``labelstream run learner``) does not: without this, ``mypkg/lfs.py``
    beside you would need ``PYTHONPATH=.``. Appended, not prepended (as
    uvicorn's ``--app-dir`` does), so an installed module of the same name wins.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        here = os.getcwd()
        if exc.name != module_name.partition(".")[0] or here in sys.path or "" in sys.path:
            raise
        sys.path.append(here)
        return importlib.import_module(module_name)


def _as_functions(target: Any, path: str, name: str) -> list[LabelingFunction]:
    if isinstance(target, LabelingFunction):
        return [target]
    if isinstance(target, list | tuple) and target and all(isinstance(t, LabelingFunction) for t in target):
        return list(target)
    if callable(target):
        return [LabelingFunction(name, target)]
    raise ConfigError(f"labeling function {path!r}: {type(target).__name__} is not callable")


def load_functions(paths: Iterable[str]) -> list[LabelingFunction]:
    """Every LF the paths name, in order; two LFs with one name raise :class:`ConfigError`."""
    functions: list[LabelingFunction] = []
    seen: set[str] = set()
    for path in paths:
        for lf in resolve(path):
            if lf.name in seen:
                raise ConfigError(f"two labeling functions are named {lf.name!r} (from {path!r}); names must be unique")
            seen.add(lf.name)
            functions.append(lf)
    return functions
