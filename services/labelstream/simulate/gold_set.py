"""The simulation's gold set: records of known label and the model's proposal on them, as an admin would upload.

An admin's gold set is a labeled sample of the stream, not of the records the
policy sends to review (those are the uncertain ones, the model's mistakes
over-represented). :class:`SimulatedGoldSet` keeps the latest records of the
stream, each as (true label, the model's label), and draws the gold item a
reviewer answers from them:

- ``wrong_share=None``: uniformly among the batch just routed (the model's
  mistakes as rare as in the stream);
- ``wrong_share=q``: a record the model got wrong with probability ``q``,
  else one it got right, each uniformly within its kind — a gold set built with
  that share of wrong proposals (in the services: upload such a set; serving is
  uniform). The conditional gold bound (``policy.gold_bound = "conditional"``)
  learns ``B``, how often answers take a wrong proposal, only from the wrong
  ones: at the stream's own rate (a few %) it gets few of them; enriching the
  set gets more, and, the draw within each kind being uniform, leaves what each
  kind measures unchanged (docs/contract.md, section 5).

>>> gold = SimulatedGoldSet(wrong_share=0.5, seed=1)
>>> gold.add([("cat", "cat")] * 95 + [("dog", "cat")] * 5)
>>> draws = [gold.draw() for _ in range(1000)]
>>> round(sum(truth != proposed for truth, proposed in draws) / 1000, 1)
0.5
>>> SimulatedGoldSet(seed=1).draw() is None  # nothing seen yet
True
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable

StandIn = tuple[str, str | None]
"""A gold item: its true label and the model's proposal (``None``: no proposal, the model knows nothing yet)."""


class SimulatedGoldSet:
    """The batch just routed, the latest ``size`` records of each kind (model right, model wrong), and draws of
    gold items from them.

    Parameters
    ----------
    wrong_share
        Probability that a gold item drawn is one the model got wrong (``None``: as often as in the stream).
    size
        Records kept of each kind (the latest).
    seed
        Seed of the draws.
    """

    def __init__(self, wrong_share: float | None = None, size: int = 500, seed: int = 0) -> None:
        if wrong_share is not None and not 0.0 <= wrong_share <= 1.0:
            raise ValueError(f"invalid gold wrong share {wrong_share}: give a probability in [0, 1]")
        self.wrong_share = wrong_share
        self._rng = random.Random(seed)
        self._batch: list[StandIn] = []
        self._right: deque[StandIn] = deque(maxlen=size)
        self._wrong: deque[StandIn] = deque(maxlen=size)

    def add(self, stand_ins: Iterable[StandIn]) -> None:
        """The batch just routed, each record as (true label, the model's label)."""
        self._batch = list(stand_ins)
        if self.wrong_share is not None:
            for item in self._batch:
                (self._right if item[1] == item[0] else self._wrong).append(item)

    def draw(self) -> StandIn | None:
        """A gold item (``None`` before any record)."""
        if self.wrong_share is None:
            return self._rng.choice(self._batch) if self._batch else None
        wrong = self._rng.random() < self.wrong_share
        pool = self._wrong if (wrong and self._wrong) or not self._right else self._right
        return self._rng.choice(pool) if pool else None
