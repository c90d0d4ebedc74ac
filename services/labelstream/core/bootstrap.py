"""Warm start: train a first model version from labeled history, and seed its calibration with held-out evidence.

Each labeled record goes, by a seeded coin flip with probability
``holdout_share``, to the *held-out* part — a plain (Bernoulli) random sample
of the history — or to the *training* part, which the engine learns in file
order, as it would learn human answers (labeling functions' accuracies
included). Then version 1 scores every held-out record, and the evidence
goes to the calibration **through the policy's public API only**:

1. a fresh policy of the same settings, with no review budget limit, decides
   every held-out record before it has learned anything, as it decides the
   first records of a new stream (a cold start: every record of a class as
   likely to be reviewed);
2. each record the policy sent to review becomes an
   :class:`~labelstream.core.policy.Evidence` with that decision's reason,
   inclusion probability and :attr:`~labelstream.core.policy.Decision.context`,
   and its true label, and the policy learns it (:meth:`Policy.learn`);
3. version 1 is re-tested on those answers (``recheck_version(model,
   held_out=True)``: they are a sample it never learned, so the thresholds it
   validates go in force at once, without waiting for the other classes);
4. the engine's policy adopts that policy's learned state
   (``learned_state`` / ``load_learned_state``, as from a model snapshot) and
   its kept answers (``kept_answers`` / ``load_kept_answers``), on which the
   next versions are re-tested too.

So the evidence is whatever the policy makes of a reviewed cold-start record —
valid under its rules whatever they are — and no code here reads or writes a
decision's context. The assumption, stated in docs/warm-start.md: the history
is exchangeable with the stream that follows (same source, no drift in
between); when it is not, the policy's own drift checks reset the calibration
as they would for any evidence. Held-out records are not learned by the
model: the evidence describes version 1 exactly.

>>> import random
>>> from labelstream.core.budget import ReviewBudget
>>> from labelstream.core.calibration import PrecisionCalibrator
>>> from labelstream.core.engine import LabelingEngine
>>> from labelstream.core.model import OnlineModel
>>> from labelstream.core.policy.contract import ContractPolicy
>>> from labelstream.core.schemas import Record
>>> from labelstream.core.strategies import VariableUncertainty
>>> def contract(budget=None):
...     return ContractPolicy(PrecisionCalibrator(), VariableUncertainty(), ReviewBudget(share=budget), seed=1)
>>> rng = random.Random(0)
>>> rows = [(Record(id=str(i), features={"x": x}), "pos" if x > 0 else "neg")
...         for i, x in enumerate(rng.uniform(-1, 1) for _ in range(3000))]
>>> engine = LabelingEngine(OnlineModel(seed=1), contract(0.3))
>>> result = warm_start(engine, rows, lambda: contract(None), holdout_share=0.3, seed=1)
>>> result.trained + result.held_out, result.evidence == result.held_out, result.holdout_accuracy > 0.95
(3000, True, True)
>>> sorted(label for label, t in result.thresholds.items() if t is not None)  # proven before any human answer
['neg', 'pos']
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from labelstream.core.engine import LabelingEngine
from labelstream.core.policy import Evidence, Policy
from labelstream.core.schemas import Record


@dataclass
class WarmStart:
    """What a warm start did: records trained on and held out, evidence the policy took, and its thresholds."""

    trained: int = 0
    held_out: int = 0
    evidence: int = 0
    """Held-out records the policy sent to review (and so learned as evidence)."""
    kept: int = 0
    """Held-out answers the engine's policy kept to re-test the next model versions on (its recheck's)."""
    holdout_accuracy: float | None = None
    """Accuracy of version 1 on the held-out part."""
    thresholds: dict[str, float | None] = field(default_factory=dict)
    """Per predicted class, the auto-label threshold the evidence proves (``None``: not proven), when the policy has one."""


def split(rows: Iterable[tuple[Record, str]], holdout_share: float, seed: int) -> Iterable[tuple[bool, Record, str]]:
    """Each row with whether it is held out: an independent seeded draw per row (a plain random sample)."""
    if not 0 <= holdout_share < 1:
        raise ValueError(f"holdout_share must be in [0, 1), got {holdout_share}")
    rng = random.Random(seed)
    for record, label in rows:
        yield rng.random() < holdout_share, record, label


def warm_start(
    engine: LabelingEngine,
    rows: Iterable[tuple[Record, str]],
    evidence_policy: Callable[[], Policy],
    holdout_share: float = 0.2,
    seed: int = 0,
    batch_size: int = 512,
    on_row: Callable[[int], None] | None = None,
) -> WarmStart:
    """Train ``engine`` on the training part, then seed its policy's calibration with the held-out part.

    Parameters
    ----------
    engine
        Learns the training rows; its policy adopts the evidence.
    rows
        (record, true label) in history order.
    evidence_policy
        A fresh policy of the engine's kind with no review budget limit: it routes the held-out records.
    holdout_share, seed
        Share of rows held out (each by a seeded coin flip).
    on_row
        Called with the number of rows read so far (progress).
    """
    result = WarmStart()
    held_out: list[tuple[Record, str]] = []
    for count, (hold, record, label) in enumerate(split(rows, holdout_share, seed), start=1):
        if hold:
            held_out.append((record, label))
        else:
            engine.learn(record, label)
            result.trained += 1
        if on_row is not None:
            on_row(count)
    result.held_out = len(held_out)
    policy = evidence_policy()
    policy.on_model_version(engine.model_version)
    evidence: list[Evidence] = []
    correct = 0
    for start in range(0, len(held_out), batch_size):
        batch = held_out[start : start + batch_size]
        predictions = engine.score([record for record, _ in batch])
        # every decision before any evidence is learned: the whole held-out part is routed as a cold start
        decisions = policy.decide_many(predictions, 0)
        for (record, label), prediction, decision in zip(batch, predictions, decisions, strict=True):
            correct += prediction.label == label
            if decision.outcome == "review":
                evidence.append((engine.model_input(record), Evidence(
                    prediction, label, decision.reason, decision.inclusion_probability, context=decision.context,
                )))
    for x, item in evidence:
        policy.learn(item)
        policy.keep_answer(x, item)
    # the thresholds proven on held-out answers, validated for this model on them; they do not wait for the others
    policy.recheck_version(engine.model, held_out=True)
    result.evidence = len(evidence)
    result.holdout_accuracy = correct / len(held_out) if held_out else None
    engine.policy.load_learned_state(policy.learned_state())
    result.kept = engine.policy.load_kept_answers(policy.kept_answers())  # for the rechecks of the next versions
    calibrator = getattr(engine.policy, "calibrator", None)
    if calibrator is not None:  # the contract: per class, or one key for all under its overall guarantee
        overall = getattr(engine.policy, "guarantee", "per_class") == "overall"
        in_force = getattr(engine.policy, "threshold", calibrator.threshold)
        result.thresholds = {label: in_force("__all__" if overall else label) for label in sorted(engine.model.classes)}
    return result
