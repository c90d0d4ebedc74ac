"""The simulated reviewer: delays in records, wrong answers at the rate asked, clear errors."""

from __future__ import annotations

import pytest

from labelstream.errors import LabelstreamError
from labelstream.simulate.reviewer import SimulatedReviewer, parse_delay

LABELS = ("cat", "dog", "fox")


@pytest.mark.parametrize(("spec", "parsed"), [("500", ("fixed", 500.0)), ("exp:20", ("exp", 20.0)), (0, ("fixed", 0.0))])
def test_delays_parse(spec, parsed):
    assert parse_delay(spec) == parsed


@pytest.mark.parametrize("spec", ["-3", "gamma:5", "exp:", "soon"])
def test_a_bad_delay_names_the_forms(spec):
    with pytest.raises(LabelstreamError, match="exp:500"):
        parse_delay(spec)


def test_independent_errors_spread_over_the_other_labels():
    reviewer = SimulatedReviewer(error_rate=0.2, seed=1)
    answers = [reviewer.answer("cat", proposed="cat", labels=LABELS) for _ in range(5000)]
    wrong = [a for a in answers if a != "cat"]
    assert 0.18 <= len(wrong) / 5000 <= 0.22
    assert 0.4 <= wrong.count("dog") / len(wrong) <= 0.6  # the model's right: its label plays no part


def test_errors_with_the_model_repeat_its_wrong_proposal():
    reviewer = SimulatedReviewer(error_rate=0.2, errors="with_model", seed=1)
    answers = [reviewer.answer("cat", proposed="fox", labels=LABELS) for _ in range(2000)]
    assert set(answers) == {"cat", "fox"}


def test_reviewers_who_follow_the_model_err_only_where_it_does_accepting_its_proposal():
    reviewer = SimulatedReviewer(error_rate=0.5, errors="follows_model", seed=1)
    assert {reviewer.answer("cat", proposed="cat", labels=LABELS) for _ in range(500)} == {"cat"}
    answers = [reviewer.answer("cat", proposed="fox", labels=LABELS) for _ in range(2000)]
    assert set(answers) == {"cat", "fox"} and 0.45 <= answers.count("fox") / 2000 <= 0.55


def test_exponential_delays_have_the_mean_asked_and_fixed_ones_are_fixed():
    reviewer = SimulatedReviewer(delay="exp:300", seed=2)
    delays = [reviewer.delay_records() for _ in range(4000)]
    assert 280 <= sum(delays) / len(delays) <= 320 and min(delays) == 0
    assert {SimulatedReviewer(delay=40).delay_records() for _ in range(10)} == {40}


@pytest.mark.parametrize("kw", [{"error_rate": 1.5}, {"errors": "sometimes"}])
def test_bad_settings_are_errors(kw):
    with pytest.raises(LabelstreamError):
        SimulatedReviewer(**kw)
