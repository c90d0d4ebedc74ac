"""The simulated reviewer of ``labelstream simulate``: answers that come late, and are sometimes wrong.

A real review queue answers records some time after they were routed, and
people make mistakes. :class:`SimulatedReviewer` draws each reviewed record's
answer when it is routed and when it arrives:

- ``delay``: how many records later the answer arrives — a fixed number
  (``"500"``) or exponentially distributed with that mean (``"exp:500"``);
- ``error_rate``: the probability of a wrong answer. ``errors="independent"``:
  a wrong answer is one of the other labels, uniformly, whatever the model
  said (the assumption under which the contract holds against the truth, see
  ``docs/contract.md``). ``errors="with_model"``: a wrong answer is the
  model's proposed label whenever the model was wrong — reviewers who err on
  the same hard items as the model, and are swayed by its proposal (as wrong
  as ``h(p, a)`` of ``docs/contract.md`` allows, no more: that bar holds).
  ``errors="follows_model"``: every error falls where the model is wrong —
  right whenever the model is, and where it is wrong the reviewer accepts its
  proposal with probability ``error_rate`` (then the agreement overstates
  precision beyond ``h``: only the conditional gold bound sees it).

The simulation reports precision against the file's label column, never
against these answers.

>>> reviewer = SimulatedReviewer(delay="exp:100", error_rate=0.1, seed=3)
>>> answers = [reviewer.answer("cat", proposed="dog", labels=("cat", "dog", "fox")) for _ in range(1000)]
>>> round(sum(a != "cat" for a in answers) / 1000, 2), sorted(set(answers))
(0.1, ['cat', 'dog', 'fox'])
>>> round(sum(reviewer.delay_records() for _ in range(2000)) / 2000, -1)
100.0
>>> SimulatedReviewer(delay="250").delay_records(), SimulatedReviewer().delay_records()
(250, 0)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

from labelstream.errors import LabelstreamError

ErrorMode = Literal["independent", "with_model", "follows_model"]


def parse_delay(spec: str | int | float | None) -> tuple[str, float]:
    """``"500"`` -> ("fixed", 500); ``"exp:500"`` -> ("exp", 500); an error naming the forms otherwise."""
    if spec is None:
        return "fixed", 0.0
    text = str(spec).strip()
    kind, _, value = text.rpartition(":")
    kind = kind or "fixed"
    try:
        amount = float(value)
    except ValueError:
        amount = -1.0
    if kind not in ("fixed", "exp") or amount < 0:
        raise LabelstreamError(f"invalid reviewer delay {text!r}: give records, e.g. 500, or exp:500 (exponential, mean 500)")
    return kind, amount


class SimulatedReviewer:
    """Draws each reviewed record's answer and its delay (in records).

    Parameters
    ----------
    delay
        ``"N"`` (N records later) or ``"exp:N"`` (exponential with mean N records).
    error_rate
        Probability of a wrong answer.
    errors
        ``"independent"``, ``"with_model"`` or ``"follows_model"`` (see the module docstring).
    seed
        Seed of the draws.
    """

    def __init__(
        self, delay: str | int | float | None = None, error_rate: float = 0.0, errors: ErrorMode = "independent",
        seed: int = 0,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise LabelstreamError(f"invalid reviewer error rate {error_rate}: give a probability in [0, 1]")
        if errors not in ("independent", "with_model", "follows_model"):
            raise LabelstreamError(f"invalid reviewer errors {errors!r}: give independent, with_model or follows_model")
        self.delay_kind, self.delay_mean = parse_delay(delay)
        self.error_rate = error_rate
        self.errors = errors
        self._rng = random.Random(seed)

    @property
    def instant(self) -> bool:
        return self.delay_mean == 0

    def delay_records(self) -> int:
        """How many records after its routing the next answer arrives."""
        if self.delay_kind == "exp" and self.delay_mean > 0:
            return round(self._rng.expovariate(1.0 / self.delay_mean))
        return round(self.delay_mean)

    def answer(self, truth: str, proposed: str | None, labels: Sequence[str]) -> str:
        """The reviewer's label for a record whose true label is ``truth`` (the model proposed ``proposed``)."""
        if self.errors == "follows_model" and (proposed is None or proposed == truth):
            return truth
        if self.error_rate <= 0 or self._rng.random() >= self.error_rate:
            return truth
        if self.errors != "independent" and proposed is not None and proposed != truth:
            return proposed
        others = [label for label in labels if label != truth]
        return self._rng.choice(others) if others else truth
