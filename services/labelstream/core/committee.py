"""A committee of models beside the main one: an auto-label may need every member's agreement.

The members (``committee.models`` in settings: other river models than the
main one, so their mistakes differ) learn every human answer. With
``require_agreement``, a record the policy would auto-label goes to review
with reason ``disagreement`` unless every member predicts the same label
(within the review budget; over it, it waits, deferred with reason
``disagreement``). Such reviews are not calibration evidence (the policy's
context says the record was routed to ``label``: the contract leaves it out),
so the precision guarantee stays the contract's; the committee can only
remove auto-labels, never add one.

>>> from labelstream.core.model import OnlineModel
>>> committee = Committee([OnlineModel("gaussian_nb"), OnlineModel("hoeffding_adaptive_tree", seed=1)])
>>> committee.agrees({"x": 1.0}, "pos")  # members that know nothing agree with nothing
False
>>> for _ in range(60):
...     committee.learn_one({"x": 1.0}, "pos"); committee.learn_one({"x": -1.0}, "neg")
>>> committee.agrees({"x": 1.2}, "pos"), committee.agrees({"x": 1.2}, "neg")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from labelstream.core.model import OnlineModel


class Committee:
    """Members that learn every answer; :meth:`agrees` says whether all of them predict a label."""

    def __init__(self, members: Sequence[OnlineModel], require_agreement: bool = True) -> None:
        if not members:
            raise ValueError("a committee needs at least one member model")
        self.members = list(members)
        self.require_agreement = require_agreement
        self.checked = 0
        """Auto-labels checked."""
        self.disagreed = 0
        """Auto-labels some member did not predict."""

    def learn_one(self, x: Mapping[str, float], label: str, weight: float = 1.0) -> None:
        for member in self.members:
            member.learn_one(dict(x), label, weight)

    def agrees(self, x: Mapping[str, float], label: str | None) -> bool:
        """Whether every member's most probable class is ``label`` (counted in :attr:`checked` / :attr:`disagreed`)."""
        self.checked += 1
        for member in self.members:
            probabilities = member.predict_proba_one(dict(x))
            if not probabilities or max(probabilities, key=probabilities.__getitem__) != label:
                self.disagreed += 1
                return False
        return True

    def state(self) -> dict[str, Any]:
        return {"members": self.members}

    def load_state(self, state: dict[str, Any]) -> None:
        self.members = list(state.get("members", self.members))
