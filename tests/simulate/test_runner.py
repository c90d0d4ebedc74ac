"""The in-process simulation on small files: report keys, relabel, clear errors."""

from __future__ import annotations

import doctest

import pytest

import labelstream.simulate.runner as runner_module
from labelstream.datafile import open_rows
from labelstream.errors import InputFileError
from labelstream.settings import load_settings
from labelstream.simulate.datasets import export_dataset
from labelstream.simulate.report import REPORT_KEYS
from labelstream.simulate.reviewer import SimulatedReviewer
from labelstream.simulate.runner import Simulation
from model_support import FixedModel


@pytest.fixture(scope="module")
def sea_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "sea.csv"
    export_dataset("sea_drift", path, size=1500, seed=3)
    return path


def run(path, **policy):
    settings = load_settings(policy={"review_budget_share": 0.3, **policy})
    return Simulation(settings).run(open_rows(path, label_column="label", id_column="id"))


def test_simulation_on_a_small_csv_gives_the_full_report(sea_csv):
    result = run(sea_csv)
    report = result.report
    assert set(REPORT_KEYS) <= set(report)
    assert report["records"] == 1500 == len(result.outcomes)
    assert report["auto_share"] + report["review_share"] + report["deferred_share"] == pytest.approx(1.0)
    assert report["review_share"] <= 0.3 + 1 / 1500
    assert report["settings"]["policy"]["name"] == "contract" and "kafka" not in report["settings"]
    assert [o.index for o in result.outcomes] == list(range(1500))


def test_every_review_is_answered_and_learned(sea_csv):
    result = run(sea_csv)
    reviewed = [o for o in result.outcomes if o.outcome == "review"]
    assert all(o.method == "human" and o.label == o.true_label for o in reviewed)
    assert result.report["label_accuracy"] >= 0.9


def test_deferred_records_are_relabeled_when_the_model_version_changes(sea_csv):
    # The relabel mechanics, without the version check's resets (on this short file they leave no proof to
    # relabel with; the check has its own tests below).
    result = run(sea_csv, version_change_reset=None)
    relabeled = [o for o in result.outcomes if o.relabeled]
    assert relabeled, "no deferred record was relabeled"
    assert all(o.outcome == "label" and o.method == "auto" and o.reason == "no_evidence" for o in relabeled)
    assert all(o.model_version > 0 for o in relabeled)


def test_same_seed_same_outcomes(sea_csv):
    assert run(sea_csv).outcomes == run(sea_csv).outcomes


def test_missing_label_column_is_a_clear_error(sea_csv):
    with pytest.raises(InputFileError, match="--label-column 'y' is not a column"):
        Simulation(load_settings()).run(open_rows(sea_csv, label_column="y"))


def test_a_row_without_its_label_is_a_clear_error(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"x": 1, "y": "a"}\n{"x": 2}\n')
    with pytest.raises(InputFileError, match="line 2: no value in the label column"):
        Simulation(load_settings()).run(open_rows(path, label_column="y"))


def test_invalid_rows_are_counted_not_fatal(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n1,a\n2\n3,b\n")
    result = Simulation(load_settings()).run(open_rows(path, label_column="y"))
    assert result.report["records"] == 2 and result.report["invalid_rows"] == 1


def test_doctests():
    assert doctest.testmod(runner_module).failed == 0


def test_each_answer_hands_the_policy_its_decision_context(sea_csv):
    simulation = Simulation(load_settings(policy={"review_budget_share": 0.3}))
    contexts = []
    learn = simulation.engine.policy.learn
    simulation.engine.policy.learn = lambda evidence: (contexts.append(evidence.context), learn(evidence))[1]
    result = simulation.run(open_rows(sea_csv, label_column="label", id_column="id"))
    reviewed = [o for o in result.outcomes if o.outcome == "review"]
    assert len(contexts) == len(reviewed) > 0
    assert all(c["p_review"] == o.inclusion_probability for c, o in zip(contexts, reviewed, strict=True))
    assert [c["model_version"] for c in contexts] == [o.model_version for o in reviewed]


def test_late_answers_are_learned_when_they_arrive(sea_csv):
    """With answers 200 records late, the model has learned nothing from the first 200 records' reviews."""
    settings = load_settings(policy={"review_budget_share": 0.3})
    learned_at = {}
    simulation = Simulation(settings, reviewer=SimulatedReviewer(delay="200"))
    simulation.on_record = lambda done: learned_at.setdefault(done, simulation.engine.model.n_learned)
    result = simulation.run(open_rows(sea_csv, label_column="label", id_column="id"))
    assert learned_at[200] == 0 < learned_at[400]
    assert sum(o.outcome == "review" for o in result.outcomes) == simulation.engine.model.n_learned


def test_wrong_answers_are_learned_but_precision_is_measured_against_the_label_column(sea_csv):
    settings = load_settings(policy={"review_budget_share": 0.3})
    reviewer = SimulatedReviewer(error_rate=0.2, seed=4)
    result = Simulation(settings, reviewer=reviewer).run(open_rows(sea_csv, label_column="label", id_column="id"))
    reviewed = [o for o in result.outcomes if o.outcome == "review"]
    wrong = sum(o.label != o.true_label for o in reviewed)
    assert 0.12 <= wrong / len(reviewed) <= 0.28  # the human labels carry the reviewer's mistakes
    labeled = [o for o in result.outcomes if o.label is not None]
    assert result.report["label_accuracy"] == pytest.approx(sum(o.label == o.true_label for o in labeled) / len(labeled))


def test_overlap_items_get_a_second_answer_within_the_budget_and_teach_the_reviewer_bound(sea_csv):
    settings = load_settings(policy={"review_budget_share": 0.3, "reviewer_accuracy_from_overlap": True},
                             review={"overlap_share": 0.5})
    simulation = Simulation(settings, reviewer=SimulatedReviewer(error_rate=0.1, seed=1))
    report = simulation.run(open_rows(sea_csv, label_column="label", id_column="id")).report
    bound = simulation.engine.policy.reviewer_bound
    assert report["overlap_answers"] == bound.pairs > 50
    assert report["review_share"] + report["overlap_answers"] / 1500 <= 0.3 + 2 / 1500  # second answers spend budget
    assert bound.agreements < bound.pairs  # two reviewers wrong 10 % of the time disagree sometimes


def test_gold_answers_spend_the_budget_and_teach_the_gold_bound_with_the_error_split(sea_csv):
    settings = load_settings(policy={"review_budget_share": 0.3, "reviewer_accuracy_from_overlap": True,
                                     "reviewer_accuracy_from_gold": True, "gold_bound": "accuracy"},
                             review={"gold_share": 0.5})  # the pooled bound (the default 'weighted' bets answer by answer)
    simulation = Simulation(settings, reviewer=SimulatedReviewer(error_rate=0.1, seed=1))
    report = simulation.run(open_rows(sea_csv, label_column="label", id_column="id")).report
    policy = simulation.engine.policy
    assert report["gold_answers"] == policy.gold_bound.answers > 50 and report["overlap_answers"] == 0
    assert report["gold_right"] == policy.gold_bound.right < report["gold_answers"]  # wrong 10 % of the time
    assert report["review_share"] + report["gold_answers"] / 1500 <= 0.3 + 2 / 1500  # gold answers spend budget
    # Both bounds on: the calibrator keeps half the error, each bound a quarter.
    assert policy.gold_bound.alpha == policy.reviewer_bound.alpha == pytest.approx(0.05 / 4)
    assert policy.calibrator.confidence_level == pytest.approx(0.975)
    assert policy.calibrator.reviewer_accuracy == min(policy.gold_bound.upper(), policy.reviewer_bound.upper())


def test_gold_items_carry_the_models_proposal_and_teach_the_conditional_bound(sea_csv):
    """policy.gold_bound = "conditional": each gold answer is to a record of the batch shown with the model's label;
    reviewers who follow the model accept its wrong proposals, and the bound sees it (B high, the bar above the
    target)."""
    settings = load_settings(policy={"review_budget_share": 0.3, "reviewer_accuracy_from_gold": True,
                                     "gold_bound": "conditional"}, review={"gold_share": 0.5})
    simulation = Simulation(settings, reviewer=SimulatedReviewer(error_rate=1.0, errors="follows_model", seed=1))
    report = simulation.run(open_rows(sea_csv, label_column="label", id_column="id")).report
    bound = simulation.engine.policy.gold_bound
    right, wrong = bound.right_bound, bound.wrong_bound
    assert right.answers + wrong.answers <= report["gold_answers"] and wrong.answers > 0
    assert right.right == right.answers and wrong.right == wrong.answers  # always agree: right, or swayed
    assert bound.alpha == pytest.approx(0.05 / 2) and simulation.engine.policy.calibrator.bar > 0.95


def test_a_gold_set_enriched_in_wrong_proposals_gives_b_its_share_of_the_answers(sea_csv):
    """gold_wrong_share 0.5: half the gold answers are to records the model got wrong (B learns from them); a gold
    set drawn like the stream gives B only the model's error rate of them."""
    def wrong_share(enriched: float | None) -> float:
        settings = load_settings(policy={"review_budget_share": 0.3, "reviewer_accuracy_from_gold": True,
                                         "gold_bound": "conditional"}, review={"gold_share": 0.5})
        simulation = Simulation(settings, reviewer=SimulatedReviewer(error_rate=0.03, seed=1), gold_wrong_share=enriched)
        simulation.run(open_rows(sea_csv, label_column="label", id_column="id"))
        bound = simulation.engine.policy.gold_bound
        return bound.wrong_bound.answers / (bound.wrong_bound.answers + bound.right_bound.answers)

    assert 0.4 < wrong_share(0.5) < 0.6 and wrong_share(None) < 0.25


def test_a_new_version_that_relabels_the_auto_region_opens_a_generation():
    """policy.version_change_reset: a version labeling the recent would-be auto-labels differently resets; the same
    labels do not."""
    simulation = Simulation(load_settings(policy={"version_change_reset": 0.05}))
    for _ in range(300):
        simulation.engine.policy.calibrator.learn_one("a", 0.99, True)
    check = simulation._version_check
    for _ in range(20):
        check.observe({"x": 1.0})
    assert not check.changed(FixedModel("b"), {})  # the previous version
    simulation.engine.model = FixedModel("a")
    simulation._check_version_change()
    assert [e["detector"] for e in simulation.drift_events] == ["version_change"]
    assert simulation.engine.policy.generation == 1
    for _ in range(300):  # proven again in the new generation
        simulation.engine.policy.calibrator.learn_one("a", 0.99, True)
    simulation._check_version_change()  # its predecessor is now a copy of the same model
    assert len(simulation.drift_events) == 1 and simulation.engine.policy.calibrator.threshold("a") is not None
