"""Weak supervision in the engine: apply the LFs, combine their votes with the model, learn from answers.

:class:`WeakSupervision` is what :class:`~labelstream.core.engine.LabelingEngine`
holds when labeling functions are configured (``weak.functions``). Per batch
it applies the LFs (:class:`~labelstream.core.weak.applier.LFApplier`),
counts their coverage, overlap and conflict
(:class:`~labelstream.core.weak.analysis.LFAnalysis`) and combines the votes
with the model's probabilities (:class:`~labelstream.core.weak.label_model.OnlineLabelModel`,
or :class:`~labelstream.core.weak.label_model.MajorityVote`). Per human
answer it learns the LFs' accuracies. Its learned state (the label model and
the answered-record analysis) travels with model versions from the learner
to the labelers.

>>> from labelstream.core.weak.functions import LabelingFunction
>>> lfs = [LabelingFunction("big", lambda r: "pos" if r > 5 else None),
...        LabelingFunction("negative", lambda r: "neg" if r < 0 else None)]
>>> weak = WeakSupervision.build(lfs, batch_timeout=None)
>>> votes = weak.apply([9, -3, 1])
>>> votes
[('pos', None), (None, 'neg'), (None, None)]
>>> [max(p, key=p.get) if p else None for p in weak.combine([{}, {}, {}], votes)]
['pos', 'neg', None]
>>> weak.votes_of(votes[0])
{'big': 'pos'}
>>> weak.learn(votes[0], "pos")
>>> weak.stats()["big"]["empirical_accuracy"], weak.stats()["big"]["coverage"]
(1.0, 0.3333333333333333)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from labelstream.core.weak.analysis import LFAnalysis
from labelstream.core.weak.applier import LFApplier, Votes
from labelstream.core.weak.functions import LabelingFunction
from labelstream.core.weak.label_model import MajorityVote, OnlineLabelModel, VoteCombiner

Combine = Literal["label_model", "majority"]


class WeakSupervision:
    """Labeling functions, their analysis and the label model, as one part of the engine.

    Parameters
    ----------
    applier
        Runs the LFs.
    combiner
        Turns votes and model probabilities into one distribution.
    """

    def __init__(self, applier: LFApplier, combiner: VoteCombiner) -> None:
        self.applier = applier
        self.combiner = combiner
        self.names = applier.names
        self.routed = LFAnalysis(self.names)  # every record this process routed
        self.answered = LFAnalysis(self.names)  # answered records (learned state, shipped with versions)

    @classmethod
    def build(
        cls,
        functions: Sequence[LabelingFunction],
        combine: Combine = "label_model",
        call_timeout: float = 0.05,
        batch_timeout: float | None = 1.0,
        **label_model: Any,
    ) -> WeakSupervision:
        """From LFs and plain settings (``label_model``: :class:`OnlineLabelModel`'s parameters)."""
        names = [lf.name for lf in functions]
        combiner: VoteCombiner = MajorityVote(names) if combine == "majority" else OnlineLabelModel(names, **label_model)
        return cls(LFApplier(functions, call_timeout, batch_timeout), combiner)

    def apply(self, records: Sequence[Any], observe: bool = True) -> list[Votes]:
        """The votes of every LF on every record (counted in :attr:`routed` unless ``observe`` is false:
        records scored again, e.g. deferred ones re-scored, are not new records)."""
        votes = self.applier.apply(records)
        if observe:
            self.routed.observe(votes)
        return votes

    def combine(self, probabilities: Sequence[Mapping[str, float]], votes: Sequence[Votes]) -> list[dict[str, float]]:
        """Class distributions from the model's probabilities and the votes (a record without votes keeps the model's)."""
        return self.combiner.combine_many(probabilities, votes)

    def learn(self, votes: Votes, label: str, probabilities: Mapping[str, float] | None = None) -> None:
        """Learn the LFs' accuracies (and pool weights) from one human answer; ``probabilities``: the model's
        for the record before it learned the answer."""
        self.combiner.learn_one(votes, label, probabilities=probabilities)
        self.answered.observe_answer(votes, label)

    def votes_of(self, votes: Votes) -> dict[str, str]:
        """One record's votes as ``{lf name: label}`` (abstentions left out), as a label carries them."""
        return {name: vote for name, vote in zip(self.names, votes, strict=True) if vote is not None}

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per LF: routed coverage/overlap/conflict, empirical and learned accuracy, and failures."""
        routed, answered = self.routed.summary(), self.answered.summary()
        learned = self.combiner.accuracy()
        weights = self.combiner.weights()
        class_accuracy = getattr(self.combiner, "class_accuracy", dict)()
        suspended = set(self.applier.suspended())
        return {
            name: {
                **{key: routed[name][key] for key in ("coverage", "overlap", "conflict", "polarity", "votes")},
                "answered_votes": answered[name]["answered_votes"],
                "empirical_accuracy": answered[name]["empirical_accuracy"],
                "learned_accuracy": learned.get(name),
                "weight": weights.get(name),
                "learned_class_accuracy": class_accuracy.get(name, {}),
                **self.applier.counts[name].as_dict(),
                "suspended": name in suspended,
            }
            for name in self.names
        }

    def learned_state(self) -> dict[str, Any]:
        """What the learner ships with a model version."""
        return {"combiner": self.combiner.name, "model": self.combiner.state(), "answered": self.answered.state()}

    def load_learned_state(self, state: Mapping[str, Any]) -> None:
        """Adopt the learner's label model (ignored if it was learned by another combiner)."""
        if not state or state.get("combiner") != self.combiner.name:
            return
        self.combiner.load_state(state.get("model", {}))
        self.answered.load_state(state.get("answered", {}))

    def close(self) -> None:
        self.applier.close()
