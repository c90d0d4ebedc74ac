"""The thresholds in force, re-tested against each new model version on the answers of their generation.

The betting proofs of :class:`~labelstream.core.calibration.PrecisionCalibrator`
rest on answers to the model versions that scored them. A model that *slides*
(learns, version after version, a little worse above a threshold proven on its
predecessors) is then outside them: the 30,000-record soundness run found it
(docs/contract.md, "A model that slides under its proven threshold"). This
recheck closes the gap. At each new version it re-scores the generation's
answered records (their model inputs are kept, :meth:`VersionRecheck.keep`)
with the *new* version and tests, once, each class's thresholds against the
target with the same bets as the proof: every answered record that the new
version predicts in the class at a score >= ``t`` multiplies a wealth by
``1 + λ w (y - m)``, ``y`` the new prediction's agreement with the answer,
``w`` the record's review weight relative to the least likely record of the
design then (``p_least / p_review``, fixed when it was routed, so the new
version does not change it). Thresholds are scanned from each of
:data:`RECHECK_STARTS` *upwards* to the first one not validated (a fixed
sequence, the error split over the starts). Class ``c``'s ``n``-th recheck ever, its ``k``-th in generation ``g``,
spends ``α/2 (share(n) + share(g + 1) share(k))`` (:func:`spent`,
``share(j) = 1 / (C (j+1) ln²(j+1))``), which sums to ``α`` at most over every
version ever published: with
probability at least ``1 - α`` no version auto-labels class ``c`` under a
threshold whose precision, *for that version*, is below the target. With
``skip_hopeless``, a test that even unanimous answers could not pass (a
label-free bound) is not run and spends nothing: it would have failed, and
the class's next test keeps the smaller bar.

The threshold in force is the calibrator's if the new version validated it,
else the lowest validated threshold above it, else none (the class's
auto-labels are withdrawn until a later version validates one again; its
proof is not forgotten).

>>> from labelstream.core.policy.base import Prediction
>>> class Constant:  # a stand-in model: every record "a" at 0.9
...     def predict_many(self, xs):
...         return [Prediction.from_probabilities({"a": 0.9, "b": 0.1}) for _ in xs]
>>> recheck = VersionRecheck(alpha=0.05)
>>> for i in range(1000):
...     recheck.keep({"x": float(i)}, "a" if i % 50 else "b", weight=1.0)  # 98 % right
>>> validated = recheck.run(Constant(), {"a": 0.8}, bar=0.95)
>>> recheck.in_force("a", 0.8), validated["a"][:2]
(0.8, (0.0, 0.01))
>>> for i in range(1000):
...     recheck.keep({"x": float(i)}, "a" if i % 10 else "b", weight=1.0)  # now 94 % right in all
>>> recheck.run(Constant(), {"a": 0.8}, bar=0.95)["a"], recheck.in_force("a", 0.8)
((), None)
"""

from __future__ import annotations

import bisect
import math
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from labelstream.core.calibration import DEFAULT_BETS, DEFAULT_GRID
from labelstream.core.policy.base import Prediction

RECHECK_STARTS: tuple[float, ...] = (0.0, 0.6, 0.65, 0.7, 0.9)
"""Where the recheck's scans start (upwards: the largest region, with the most evidence, first; the error is split
evenly over them)."""

ANY_CLASS = "__all__"
"""The key of the overall guarantee: one threshold for every predicted class."""


SPENDING_NORM = 2.1098
"""An upper bound of ``sum over j >= 2 of 1 / (j ln² j)`` (2.0477 up to 10⁷, plus ``1 / ln 10⁷`` for the rest)."""


def share(j: int) -> float:
    """The ``j``-th term (``j = 1, 2, ...``) of a sequence summing to at most 1: ``1 / (C (j + 1) ln²(j + 1))``."""
    return 1.0 / (SPENDING_NORM * (j + 1) * math.log(j + 1) ** 2)


def spent(alpha: float, k: int, generation: int = 0, total: int | None = None) -> float:
    """The error a class's recheck spends: its ``total``-th ever, and its ``k``-th in calibration generation
    ``generation``: ``α/2 (share(total) + share(generation + 1) share(k))``.

    Over every recheck ever this sums to at most ``α`` (each half to ``α/2``). The first half is the plain
    per-version spending, for long generations; the second starts again at ``k = 1`` in each generation, so
    that after a reset the first versions, which decide how soon the class auto-labels again, spend more.
    ``share`` decays slower than ``6 / (π² k²)`` (its 100th term is 3.6 times larger, its 1,000th 17 times).
    Without ``total``: the second sequence alone, at ``α``.

    >>> round(spent(0.05, 1, 0, 1), 4), round(spent(0.05, 1, 2, 40), 5), round(spent(0.05, 100, 0, 100), 7)
    (0.0184, 0.00078, 8.2e-06)
    >>> sum(spent(0.05, k, g, g * 50 + k) for g in range(400) for k in range(1, 51)) < 0.05
    True
    """
    if total is None:
        return alpha * share(generation + 1) * share(k)
    return alpha / 2 * (share(total) + share(generation + 1) * share(k))


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """An answered record of the generation: its model input, the answer, its relative review weight, who answered."""

    x: dict[str, float]
    answer: str
    weight: float
    reviewer: str | None = None


class _Predicts(Protocol):
    def predict_many(self, xs: Sequence[dict[str, float]]) -> list[Prediction]: ...


class VersionRecheck:
    """Validates the thresholds in force for each new model version (module docstring).

    Parameters
    ----------
    alpha
        The error of all rechecks of a class together (``1 - confidence_level``).
    window
        How many of the generation's newest answered records are re-scored (the cost of a recheck).
    grid, bets
        As the calibrator's (the same thresholds, the same bets).
    scan_starts
        Each scan runs *upwards* from its start to the first threshold not validated (a fixed sequence): the
        largest region first, where the new version's evidence is most plentiful (the calibrator scans downwards
        from its own starts, whose top regions often hold too few answers for the recheck's smaller error).
    patience
        For its first ``patience`` rechecks of a generation, a validated class waits while another class is
        proven but not validated (:meth:`held`): while no class has a threshold in force every answer counts at
        weight 1 for the recheck, instead of about the audit rate (0: no waiting). A version validated on a
        held-out sample (a warm start's, :attr:`held_out`) does not wait.
    skip_hopeless
        Skip, without spending any error, a class's test that cannot put a threshold in force: when even if every
        answer in its region agreed, the log-wealth at its proven threshold would stay below the bar of the test
        (a label-free bound: the new version's scores and the weights, never the answers). Such a test fails
        whatever the answers say, so skipping it changes no outcome; the class's next test keeps the smaller bar.
    """

    def __init__(
        self,
        alpha: float = 0.05,
        window: int = 20_000,
        grid: Sequence[float] = DEFAULT_GRID,
        scan_starts: Sequence[float] = RECHECK_STARTS,
        bets: Sequence[float] = DEFAULT_BETS,
        patience: int = 0,
        skip_hopeless: bool = False,
    ) -> None:
        self.alpha = alpha
        self.patience = patience
        self.skip_hopeless = skip_hopeless
        self.grid = tuple(grid)
        self._grid = np.asarray(self.grid)
        self.bets = np.asarray(bets)
        self._starts = sorted({max(bisect.bisect_right(self.grid, s) - 1, 0) for s in scan_starts})
        self._kept: deque[KeptAnswer] = deque(maxlen=window)
        self.checks: dict[str, int] = {}  # class -> rechecks so far in ``generation``: the k of its last spending
        self.generation = 0  # the calibration generation the counts are of
        self.total: dict[str, int] = {}  # class -> rechecks so far, all generations
        self.validated: dict[str, tuple[float, ...]] = {}  # class -> thresholds the current version validated
        self.last: dict[str, float] = {}  # class -> log-wealth at its threshold in force, at its latest test run
        self.skipped: dict[str, int] = {}  # class -> tests skipped as hopeless (skip_hopeless), all generations
        self.held_out = False
        """Whether the current version was validated on a held-out sample only (a warm start's first version)."""

    def keep(self, x: Mapping[str, float], answer: str, weight: float, reviewer: str | None = None) -> None:
        """An answered record of the current generation (``weight``: ``p_least / p_review``, in (0, 1]; ``reviewer``:
        who answered, for a bar per reviewer in :meth:`run`)."""
        # interned names: one string per feature in memory and in :meth:`kept_state`'s pickle, not one per answer
        self._kept.append(KeptAnswer({sys.intern(k): v for k, v in x.items()}, answer, min(max(weight, 0.0), 1.0),
                                     reviewer))

    def kept_state(self) -> dict[str, Any]:
        """The kept answers, compact (model inputs, answers, weights as parallel lists), for a restarted learner.

        Not part of :meth:`state` (labelers need only the validated thresholds): the learner stores it beside
        each version it publishes (:class:`~labelstream.store.recheck_answers.RecheckAnswers`).

        >>> recheck = VersionRecheck(window=2)
        >>> for i in range(3):
        ...     recheck.keep({"x": float(i)}, "a", 0.5)
        >>> state = recheck.kept_state()
        >>> state["x"], state["answers"], state["weights"]
        ([{'x': 1.0}, {'x': 2.0}], ['a', 'a'], [0.5, 0.5])
        >>> restarted = VersionRecheck(window=2)
        >>> restarted.load_kept(state)
        >>> restarted.kept_state() == state
        True
        """
        kept = list(self._kept)
        state: dict[str, Any] = {"x": [k.x for k in kept], "answers": [k.answer for k in kept],
                                 "weights": [k.weight for k in kept]}
        if any(k.reviewer is not None for k in kept):
            state["reviewers"] = [k.reviewer for k in kept]
        return state

    def load_kept(self, state: Mapping[str, Any]) -> None:
        """Adopt :meth:`kept_state` (a restarted learner; the caller checks that it is of the current generation)."""
        self._kept.clear()
        answers = state.get("answers", ())
        reviewers = state.get("reviewers") or [None] * len(answers)
        for x, answer, weight, reviewer in zip(state.get("x", ()), answers, state.get("weights", ()), reviewers, strict=True):
            self.keep(x, answer, weight, reviewer)

    def reset(self) -> None:
        """A new generation: its answers are not evidence, and nothing is validated until the next version."""
        self._kept.clear()
        self.validated.clear()
        self.held_out = False

    def run(
        self, model: _Predicts, thresholds: Mapping[str, float | None], bar: float, generation: int = 0,
        held_out: bool = False, bar_of: Callable[[str | None], float | None] | None = None,
    ) -> dict[str, tuple[float, ...]]:
        """Test each class's thresholds against ``model`` (the new version); what it validated, per class.

        ``thresholds``: the calibrator's proven threshold of each class (``None``: none, nothing to test;
        with the overall guarantee one key, :data:`ANY_CLASS`). ``bar``: the agreement bar in force.
        ``generation``: the calibration's, which only moves forward (a newer one starts the counts again).
        ``held_out``: the kept answers are a held-out sample the version never learned (a warm start): its
        validated thresholds do not wait (:meth:`held`). ``bar_of``: each kept answer's own bar, from its reviewer
        (a stream-weighted gold bound: each answer held to its reviewer's bound; ``None``: no bet on it), instead of
        ``bar``.
        """
        self.validated = {}
        self.held_out = held_out
        if generation > self.generation:
            self.generation, self.checks = generation, {}
        generation = self.generation  # never an older one's: each (generation, k) spends once
        tested = [key for key, t in thresholds.items() if t is not None]
        if not tested:
            return self.validated
        kept = list(self._kept)
        predictions = model.predict_many([k.x for k in kept]) if kept else []
        if bar_of is not None:  # one bar per kept answer: each bet f w (x - b) / b against its own
            bars = {reviewer: bar_of(reviewer) for reviewer in {k.reviewer for k in kept}}
            bar = np.asarray([np.nan if bars[k.reviewer] is None else bars[k.reviewer] for k in kept])  # type: ignore[assignment]
        lambdas = self.bets / bar if bar_of is None else self.bets
        for key in tested:
            at = max(bisect.bisect_right(self.grid, thresholds[key]) - 1, 0)
            k, n = self.checks.get(key, 0) + 1, self.total.get(key, 0) + 1
            bar_nats = math.log(len(self._starts) / spent(self.alpha, k, generation, n))
            if self.skip_hopeless and self._log_wealth(key, kept, predictions, lambdas, bar, agree=True)[at] < bar_nats:
                self.validated[key] = ()  # even unanimous answers could not clear the bar: no test, no error spent
                self.skipped[key] = self.skipped.get(key, 0) + 1
                continue
            self.checks[key], self.total[key] = k, n
            log_wealth = self._log_wealth(key, kept, predictions, lambdas, bar)
            passed = log_wealth >= bar_nats
            valid = np.zeros(len(self.grid), dtype=bool)
            for start in self._starts:  # upwards from each start to the first threshold not validated
                failures = np.flatnonzero(~passed[start:])
                valid[start : start + (int(failures[0]) if failures.size else len(self.grid))] = True
            self.validated[key] = tuple(self.grid[i] for i in np.flatnonzero(valid))
            self.last[key] = float(log_wealth[at])
        return self.validated

    def _log_wealth(
        self, key: str, kept: list[KeptAnswer], predictions: list[Prediction], lambdas: np.ndarray,
        bar: float | np.ndarray, agree: bool = False,
    ) -> np.ndarray:
        """Per grid threshold: the log of the mean over the bets of the wealth, on the new version's region (``agree``:
        as if every answer agreed with the new version, an upper bound that does not read the answers). ``bar``: one
        for all, with ``lambdas`` the bets over it; or one per kept answer, with ``lambdas`` the bets themselves (each
        answer's stake over its own bar)."""
        per_answer = isinstance(bar, np.ndarray)
        rows = [(prediction.confidence, float(agree or prediction.label == kept_answer.answer), kept_answer.weight,
                 bar[i] if per_answer else bar)
                for i, (kept_answer, prediction) in enumerate(zip(kept, predictions, strict=True))
                if prediction.label is not None and (key == ANY_CLASS or prediction.label == key)]
        per_bin = np.zeros((len(self.grid), len(lambdas)))
        if rows:
            scores, agrees, weights, bars = np.asarray(rows).T
            bins = np.maximum(np.searchsorted(self._grid, scores, side="right") - 1, 0)
            if per_answer:  # NaN: no bet on the answer (a stake of 0)
                stakes = np.nan_to_num(weights * (agrees - bars) / bars, nan=0.0)
                terms = np.log1p(np.outer(stakes, lambdas))
            else:
                terms = np.log1p(np.outer(weights * (agrees - bar), lambdas))
            np.add.at(per_bin, bins, terms)
        above = np.flip(np.cumsum(np.flip(per_bin, axis=0), axis=0), axis=0)  # sums over records with score >= t
        top = above.max(axis=1)
        return top + np.log(np.exp(above - top[:, None]).mean(axis=1))

    def in_force(self, key: str, threshold: float, proven: Sequence[float] | None = None) -> float | None:
        """The threshold in force for ``key`` when the calibrator's lowest proven one is ``threshold``: the lowest
        threshold at or above it that the current version validated and, if ``proven`` (the calibrator's proven
        thresholds) is given, that is among them (``None``: none is both)."""
        validated = self.validated.get(key, ())
        allowed = None if proven is None else self._rounded(key, proven)
        for value in validated[bisect.bisect_left(validated, threshold - 1e-12) :]:
            if allowed is None or round(value, 6) in allowed:
                return value
        return None

    def _rounded(self, key: str, proven: Sequence[float]) -> set[float]:
        """``proven``'s thresholds rounded, remembered a class for the calibrator's tuple (kept until it rescans the
        class: decide_many asks for every class's threshold in force each batch)."""
        cache = self.__dict__.setdefault("_rounded_of", {})  # not in __init__: pickles made before it have none
        kept = cache.get(key)
        if kept is not None and kept[0] is proven:  # the same tuple (immutable): the same thresholds
            return kept[1]
        rounded = {round(t, 6) for t in proven}
        if type(proven) is tuple:
            cache[key] = (proven, rounded)
        return rounded

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the cache of :meth:`_rounded`."""
        state = dict(self.__dict__)
        state.pop("_rounded_of", None)
        return state

    def held(self, key: str, waiting: Sequence[str]) -> bool:
        """Whether ``key``'s validated threshold waits: within its first :attr:`patience` rechecks of the generation,
        while ``waiting`` (the other classes proven but not validated) is not empty, unless the version in force was
        validated on a held-out sample (:attr:`held_out`: a warm start's first version). Waiting only withholds."""
        return bool(waiting) and not self.held_out and self.checks.get(key, 0) <= self.patience

    def state(self) -> dict[str, Any]:
        """What the labelers need (the validated thresholds) and the spending's count; the answers stay here."""
        return {"validated": {key: list(values) for key, values in self.validated.items()},
                "checks": dict(self.checks), "generation": self.generation, "total": dict(self.total),
                "held_out": self.held_out}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Adopt :meth:`state` (a labeler adopting the learner's version, or a learner restoring its snapshot)."""
        self.validated = {key: tuple(values) for key, values in (state.get("validated") or {}).items()}
        self.held_out = bool(state.get("held_out", False))
        total = {key: int(n) for key, n in (state.get("total") or {}).items()}
        self.total = {key: max(total.get(key, 0), self.total.get(key, 0)) for key in total | self.total}
        generation = int(state.get("generation", 0))
        loaded = {key: int(n) for key, n in (state.get("checks") or {}).items()}
        if generation > self.generation:
            self.generation, self.checks = generation, loaded
        elif generation == self.generation:
            self.checks = {key: max(loaded.get(key, 0), self.checks.get(key, 0)) for key in loaded | self.checks}
