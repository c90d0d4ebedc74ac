"""A labeler relabels its deferred records one last time with the outgoing version before adopting a challenger's.

The challenger's version opens a new calibration generation, after which the records deferred in the old one are
never relabeled; before it, a class whose threshold is proven and validated but waits for another's is accepted
(docs/contract.md, The recheck: "The last relabel of a generation").
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from labelstream.labeler import models
from labelstream.labeler.models import ModelKeeper


class _Policy:
    def __init__(self, held: tuple[str, ...]) -> None:
        self._held = held
        self.name = "contract"

    def held(self) -> tuple[str, ...]:
        return self._held


class _Engine:
    def __init__(self, held: tuple[str, ...], calls: list[str]) -> None:
        self.policy = _Policy(held)
        self.model_version = 3
        self.monitor = None
        self.calls = calls

    def swap_model(self, model, featurizer, policy_state, version) -> None:
        self.calls.append(f"swap {version}")
        self.model_version = version


def _keeper(held: tuple[str, ...], calls: list[str]) -> ModelKeeper:
    keeper = object.__new__(ModelKeeper)  # no Redis, no watcher: only adopt's order of steps is under test
    keeper.engine = _Engine(held, calls)
    keeper.settings = SimpleNamespace(model=SimpleNamespace(model_name="m"), policy=SimpleNamespace(target_precision=0.95))
    keeper.metrics = SimpleNamespace(set_model=lambda *args: None)
    keeper.relabel_deferred = lambda closing=False: calls.append(f"relabel closing={closing}")
    return keeper


def _state(version: int, challenger: bool) -> SimpleNamespace:
    model = SimpleNamespace(name="logistic", n_learned=100)
    return SimpleNamespace(model=model, featurizer=None, policy_state={}, version=version, created_at=0.0,
                           metrics={"challenger": float(challenger)})


@pytest.mark.parametrize(("challenger", "held", "expected"), [
    (True, ("a",), ["relabel closing=True", "swap 4", "relabel closing=False"]),
    (True, (), ["swap 4", "relabel closing=False"]),  # nothing waits: the last relabel would accept nothing new
    (False, ("a",), ["swap 4", "relabel closing=False"]),  # an ordinary version keeps the generation
])
def test_a_challenger_version_is_preceded_by_the_closing_relabel(monkeypatch, challenger, held, expected) -> None:
    monkeypatch.setattr(models, "export_policy_metrics", lambda *args: None)
    calls: list[str] = []
    _keeper(held, calls).adopt(_state(4, challenger))
    assert calls == expected
