"""The in-process label-error simulation: evidence is the first answer, the model learns the consensus."""

from __future__ import annotations

from labelstream.datafile import rows_from_text
from labelstream.settings import load_settings
from labelstream.simulate.label_errors import LabelErrorSimulation, label_errors_markdown, summarize

TEXT = "x,y\n" + "".join(f"{(i % 2 * 2 - 1) * (1 + i % 3)},{'pos' if i % 2 else 'neg'}\n" for i in range(800))
POLICY = {"name": "threshold", "confidence_threshold": 0.999, "cold_start_records": 800, "review_budget_share": None}


class Recording(LabelErrorSimulation):
    """Remembers each first answer, and what the policy and the model were taught."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.firsts: list[str] = []
        self.evidence: list[str] = []
        self.taught: list[str] = []
        policy_learn, model_learn = self.engine.policy.learn, self.engine.model.learn_one
        self.engine.policy.learn = lambda evidence: (self.evidence.append(evidence.true_label), policy_learn(evidence))[1]
        self.engine.model.learn_one = lambda x, y: (self.taught.append(y), model_learn(x, y))[1]

    def _review(self, truth, rng):
        answer = super()._review(truth, rng)
        if rng is self._rng:
            self.firsts.append(answer)
        return answer


def run(enabled: bool) -> Recording:
    settings = load_settings(policy=POLICY, label_errors={"enabled": enabled, "min_answers": 20, "min_confidence": 0.7})
    simulation = Recording(settings, error_rate=0.1, seed=4)
    simulation.run(rows_from_text(TEXT, "csv", label_column="y"))
    return simulation


def test_the_policy_sees_every_first_answer_at_once_and_the_model_learns_fewer_wrong_labels():
    off, on = run(False), run(True)
    assert on.evidence == on.firsts and off.evidence == off.firsts  # the same sample, flagged or not
    assert on.firsts == off.firsts  # same reviewers, same draws: only what the model learns differs
    stats = on.stats
    assert stats.answers == 800 and len(on.taught) == 800  # one label learned per answer, held ones included
    assert stats.flagged > 0 and stats.extra_reviews >= stats.flagged
    assert stats.flagged_wrong / stats.flagged > 0.5  # flags are mostly wrong answers (base rate 0.1)
    assert off.stats.wrong_learned == off.stats.wrong_answers
    assert stats.wrong_learned == sum(t != f for t, f in zip(on.taught, truths(), strict=True))
    assert stats.wrong_learned < off.stats.wrong_learned
    assert stats.confirmed + stats.overturned == stats.flagged
    assert on.engine.label_errors.counts()["flagged"] == stats.flagged


def truths() -> list[str]:
    return ["pos" if i % 2 else "neg" for i in range(800)]


def test_the_summary_and_its_table():
    runs = [
        {"dataset": "d", "detection": "off", "seed": 1, "answers": 100, "wrong_answers": 10, "learned": 100,
         "wrong_learned": 10, "flagged": 0, "flagged_wrong": 0, "extra_reviews": 0, "confirmed": 0, "overturned": 0,
         "fixed": 0, "broken": 0, "auto_share": 0.5, "auto_precision": 0.96, "model_accuracy": 0.9},
        {"dataset": "d", "detection": "on (0.8)", "seed": 1, "answers": 100, "wrong_answers": 10, "learned": 100,
         "wrong_learned": 4, "flagged": 8, "flagged_wrong": 6, "extra_reviews": 12, "confirmed": 2, "overturned": 6,
         "fixed": 6, "broken": 0, "auto_share": 0.5, "auto_precision": 0.97, "model_accuracy": 0.91},
    ]
    rows = summarize(runs)
    assert [(r["detection"], r["reaching_share"], r["extra_reviews_per_1000"], r["flag_precision"]) for r in rows] == [
        ("off", 1.0, 0.0, None), ("on (0.8)", 0.4, 120.0, 0.75)]
    table = label_errors_markdown({"error_rate": 0.05, "seeds": [1], "rows": rows}, "labelstream bench label-errors",
                                  {"date": "today", "cpus": "2", "arch": "x86_64", "python": "3.11"})
    assert "| d | on (0.8) | 100 | 100.0 | 40.0 | 40% | 120.0 | 75% | 6 / 0 | 91.00% | 50.0% | 97.0% |" in table
