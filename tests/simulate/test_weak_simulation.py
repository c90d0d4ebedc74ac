"""Simulating with labeling functions: the report's labeling_functions section, and weak labels."""

from __future__ import annotations

import pytest

from labelstream.datafile import open_rows
from labelstream.settings import load_settings
from labelstream.simulate.datasets import export_dataset
from labelstream.simulate.runner import Simulation

LFS = "labelstream.simulate.benchmark_lfs:phishing"


@pytest.fixture(scope="module")
def phishing_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "phishing.csv"
    export_dataset("phishing", path)
    return path


def simulate(path, **weak):
    # No review budget, as when these figures were chosen (the default budget, 0.3, leaves Phishing no proof).
    settings = load_settings(model={"seed": 1}, policy={"seed": 1, "review_budget_share": None}, weak=weak)
    return Simulation(settings).run(open_rows(path, label_column="label", id_column="id"))


def test_the_report_has_each_lf_against_the_truth_and_the_weak_labels(phishing_csv):
    result = simulate(phishing_csv, functions=[LFS])
    section = result.report["labeling_functions"]
    functions = section["functions"]
    assert list(functions) == ["form_handler_blank", "form_handler_set", "no_popup", "popup", "no_https", "https",
                               "anchor_same_domain"]
    # true accuracy, counted from the outcomes' votes, is what the truth says of every record voted on
    voted = [o for o in result.outcomes if o.votes and "no_popup" in o.votes]
    assert functions["no_popup"]["true_accuracy"] == sum(o.true_label == "False" for o in voted) / len(voted)
    assert functions["no_popup"]["coverage"] == len(voted) / len(result.outcomes)
    # the label model tells the precise LF from the noisy one, from the answers alone
    assert functions["no_popup"]["learned_accuracy"] > functions["anchor_same_domain"]["learned_accuracy"] + 0.15
    weak = [o for o in result.outcomes if o.method == "weak"]
    assert section["weak_labels"] == len(weak) > 0
    assert all(o.votes for o in weak)
    assert all(o.method == "auto" for o in result.outcomes if o.auto and not o.votes and not o.relabeled)
    assert section["weak_precision"] == sum(o.correct for o in weak) / len(weak)


def test_without_lfs_there_is_no_section_and_majority_is_named(phishing_csv):
    assert "labeling_functions" not in simulate(phishing_csv).report
    assert simulate(phishing_csv, functions=[LFS], combine="majority").report["labeling_functions"]["combine"] == "majority"
