"""Label-error detection measured in process: how many wrong human labels reach the model, on vs off.

:class:`LabelErrorSimulation` is the in-process simulation with reviewers who
are wrong with probability ``error_rate`` (a uniformly wrong label among the
labels seen so far, independently of the model: the contract's assumption 4)
and, with ``label_errors.enabled``, the learner's rule
(docs/label-errors.md): the first answer's evidence feeds the policy at once;
an answer the confident model contradicts is not learned but sent to a second
reviewer (same error rate), a third when the two disagree (the review
service's adjudication), and the model learns the majority (a tie keeps the
first answer: :class:`~labelstream.core.consensus.MajorityConsensus`). Second
reviews are answered at once (the service's delay only postpones the learning).

Figures (:class:`LabelErrorStats`): answers, wrong answers, **wrong labels
learned** by the model, flags, extra reviews, and the flags' outcomes.
:func:`run_label_error_bench` runs each stream with detection off and on, on
the same seeds (the reviewers' draws are seeded: the first answers are the same
in both runs until the models diverge), for ``labelstream bench label-errors``.

>>> from labelstream.settings import load_settings
>>> from labelstream.datafile import rows_from_text
>>> text = "x,y\\n" + "".join(f"{i % 2 * 2 - 1},{'pos' if i % 2 else 'neg'}\\n" for i in range(600))
>>> policy = {"name": "threshold", "confidence_threshold": 0.99, "cold_start_records": 600, "review_budget_share": None}
>>> settings = load_settings(policy=policy, label_errors={"enabled": True, "min_answers": 20, "min_confidence": 0.7})
>>> simulation = LabelErrorSimulation(settings, error_rate=0.1, seed=1)
>>> stats = simulation.run(rows_from_text(text, "csv", label_column="y")) and simulation.stats
>>> stats.answers, stats.wrong_answers, stats.flagged, stats.wrong_learned
(600, 56, 53, 18)
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from labelstream.core.consensus import MajorityConsensus
from labelstream.core.engine import Routed
from labelstream.core.policy import Evidence, Prediction
from labelstream.datafile import open_rows
from labelstream.settings import Settings, load_settings
from labelstream.simulate.datasets import DATASETS, export_dataset
from labelstream.simulate.quality import SYNTHETIC_SEED
from labelstream.simulate.runner import Simulation


@dataclass
class LabelErrorStats:
    """What the reviewers gave and what the model learned (all against the truth)."""

    answers: int = 0
    wrong_answers: int = 0
    learned: int = 0
    wrong_learned: int = 0
    flagged: int = 0
    flagged_wrong: int = 0
    extra_reviews: int = 0
    confirmed: int = 0
    overturned: int = 0
    fixed: int = 0
    broken: int = 0

    @property
    def reaching_share(self) -> float | None:
        """Wrong labels the model learned per wrong answer given (1.0 without detection)."""
        return self.wrong_learned / self.wrong_answers if self.wrong_answers else None

    def per_1000(self, count: int) -> float:
        return 1000 * count / self.answers if self.answers else 0.0


class LabelErrorSimulation(Simulation):
    """The in-process simulation with erring reviewers and the learner's second reviews (module docstring)."""

    def __init__(self, settings: Settings, *args: Any, error_rate: float = 0.05, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        self.error_rate = error_rate
        self.stats = LabelErrorStats()
        self._rng = random.Random(seed)
        self._second_rng = random.Random(seed + 1_000_003)  # second reviews: not shifting the first answers' draws
        self._labels: dict[str, None] = {}

    def _review(self, truth: str, rng: random.Random) -> str:
        self._labels[truth] = None
        if rng.random() >= self.error_rate:
            return truth
        others = [label for label in self._labels if label != truth]
        return rng.choice(others) if others else truth

    def _answer(self, item: Routed, truth: str, reviewer: str | None = None) -> None:
        """A reviewer answers; a flagged answer is reviewed again and the model learns the consensus."""
        stats, engine = self.stats, self.engine
        first = self._review(truth, self._rng)
        stats.answers += 1
        stats.wrong_answers += first != truth
        flag, probabilities = engine.check_answer(item.record, first)
        if flag is None:
            if engine.label_errors is not None:
                engine.label_errors.learn_one(probabilities, first)
            super()._answer(item, first, reviewer)
            self._learned(first, truth)
            return
        engine.label_errors.learn_one(probabilities, first, flagged=True)
        decision = item.decision
        engine.learn_evidence(Evidence(  # its model input too: the recheck keeps held answers, as the learner does
            item.prediction, first, decision.reason, decision.inclusion_probability, self.now, context=decision.context,
            reviewer=reviewer,
        ), engine.model_input(item.record))
        answers = {"first": first, "second": self._review(truth, self._second_rng)}
        if answers["second"] != first:  # adjudication
            answers["third"] = self._review(truth, self._second_rng)
        final = MajorityConsensus().predict_one(answers)
        engine.label_errors.resolve(first, final)
        stats.flagged += 1
        stats.flagged_wrong += first != truth
        stats.extra_reviews += len(answers) - 1
        stats.confirmed += final == first
        stats.overturned += final != first
        stats.fixed += first != truth and final == truth
        stats.broken += first == truth and final != truth
        if self.reaction is not None:
            x = engine.featurizer.transform_one(item.record.features)
            self.reaction.observe_answer(x, final, Prediction.from_probabilities(engine.model.predict_proba_one(x)).label)
        engine.learn(item.record, final, None, votes=item.votes or {})
        self._learned_since_version += 1
        self._learned(final, truth)

    def _learned(self, label: str, truth: str) -> None:
        self.stats.learned += 1
        self.stats.wrong_learned += label != truth


# -- the benchmark -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelErrorStream:
    dataset: str
    size: int | None = None
    data_seed: int = 0


def label_error_streams(quick: bool = False) -> list[LabelErrorStream]:
    """Phishing (real, 2 classes), image segments (real, 7 classes) and SEA (synthetic, abrupt drift)."""
    return [
        LabelErrorStream("phishing"),
        LabelErrorStream("image_segments"),
        LabelErrorStream("sea_drift", 3000 if quick else None, SYNTHETIC_SEED),
    ]


def run_label_errors(
    stream: LabelErrorStream, path: Path, enabled: bool, seed: int, error_rate: float, min_confidence: float,
    target_precision: float = 0.95, review_budget_share: float = 0.3,
) -> dict[str, Any]:
    """One run: the simulation's report figures and the label-error stats."""
    settings = load_settings(
        model={"name": DATASETS[stream.dataset].model, "seed": seed},
        policy={"target_precision": target_precision, "review_budget_share": review_budget_share, "seed": seed},
        label_errors={"enabled": enabled, "min_confidence": min_confidence},
    )
    simulation = LabelErrorSimulation(settings, 500, deferred_ttl=2000, error_rate=error_rate, seed=seed)
    result = simulation.run(open_rows(path, label_column="label", id_column="id"))
    outcomes = result.outcomes
    return {
        "dataset": stream.dataset, "detection": enabled, "seed": seed, **asdict(simulation.stats),
        "auto_share": result.report["auto_share"], "auto_precision": result.report["auto_precision"],
        # prequential: the model's prediction of each record when it arrived, against the truth
        "model_accuracy": mean(o.predicted_label == o.true_label for o in outcomes) if outcomes else None,
    }


def run_label_error_bench(
    error_rate: float = 0.05,
    min_confidences: tuple[float, ...] = (0.8,),
    seeds: tuple[int, ...] = (1, 2, 3),
    quick: bool = False,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every stream with detection off, then on at each ``min_confidences``, over ``seeds``."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for stream in label_error_streams(quick):
            path = Path(tmp) / f"{stream.dataset}.csv"
            export_dataset(stream.dataset, path, stream.size, stream.data_seed)
            for seed in seeds:
                for min_confidence in (None, *min_confidences):
                    run = run_label_errors(stream, path, min_confidence is not None, seed, error_rate, min_confidence or 1.0)
                    run["detection"] = "off" if min_confidence is None else f"on ({min_confidence})"
                    runs.append(run)
                    if on_run is not None:
                        on_run(run)
    return {"error_rate": error_rate, "min_confidences": list(min_confidences), "seeds": list(seeds), "quick": quick,
            "rows": summarize(runs), "runs": runs}


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sums over seeds per (dataset, detection), then the shares."""
    rows = []
    for key in dict.fromkeys((run["dataset"], run["detection"]) for run in runs):
        group = [run for run in runs if (run["dataset"], run["detection"]) == key]
        total = LabelErrorStats(**{name: sum(run[name] for run in group) for name in LabelErrorStats.__dataclass_fields__})
        precisions = [run["auto_precision"] for run in group if run["auto_precision"] is not None]
        rows.append({
            "dataset": key[0], "detection": key[1], "answers": total.answers,
            "wrong_answers_per_1000": round(total.per_1000(total.wrong_answers), 1),
            "wrong_learned_per_1000": round(total.per_1000(total.wrong_learned), 1),
            "reaching_share": None if total.reaching_share is None else round(total.reaching_share, 3),
            "extra_reviews_per_1000": round(total.per_1000(total.extra_reviews), 1),
            "flagged_per_1000": round(total.per_1000(total.flagged), 1),
            "flag_precision": round(total.flagged_wrong / total.flagged, 3) if total.flagged else None,
            "fixed": total.fixed, "broken": total.broken,
            "model_accuracy": round(mean(run["model_accuracy"] for run in group), 4),
            "auto_share": round(mean(run["auto_share"] for run in group), 4),
            "auto_precision": round(mean(precisions), 4) if precisions else None,
        })
    return rows


def label_errors_markdown(result: dict[str, Any], command: str, machine: dict[str, str]) -> str:
    """The BENCHMARKS.md section."""
    where = f"{machine['date']}, {machine['cpus']} CPUs ({machine['arch']}), Python {machine['python']}"
    lines = [
        "## Label-error detection",
        "",
        f"`{command}` — {where}. Reviewers wrong {result['error_rate']:.0%} of the time (a uniformly wrong label, "
        "independent of the model); detection off, and on at each `label_errors.min_confidence` in parentheses; "
        f"contract policy, target 0.95, budget 0.3; sums over seeds {', '.join(map(str, result['seeds']))}. "
        "*Reaching*: wrong labels the model learned per wrong answer given. *Flag precision*: flagged answers "
        "that were wrong. *Fixed / broken*: wrong first answers the second review corrected / right ones it overturned. "
        "*Model accuracy*: the model's prediction of each record as it arrived (prequential), against the truth.",
        "",
        "| stream | detection | answers | wrong answers /1000 | wrong learned /1000 | reaching | extra reviews /1000 "
        "| flag precision | fixed / broken | model accuracy | auto share | auto precision |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        precision = "-" if row["flag_precision"] is None else f"{row['flag_precision']:.0%}"
        auto_precision = "-" if row["auto_precision"] is None else f"{row['auto_precision']:.1%}"
        reaching = "-" if row["reaching_share"] is None else f"{row['reaching_share']:.0%}"
        lines.append(
            f"| {row['dataset']} | {row['detection']} | {row['answers']} "
            f"| {row['wrong_answers_per_1000']} | {row['wrong_learned_per_1000']} | {reaching} "
            f"| {row['extra_reviews_per_1000']} | {precision} | {row['fixed']} / {row['broken']} "
            f"| {row['model_accuracy']:.2%} | {row['auto_share']:.1%} | {auto_precision} |"
        )
    return "\n".join(lines) + "\n"
