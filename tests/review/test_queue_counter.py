"""The reviewers' waiting counter (review/queue_counter.py): exact below a size, rounded down to a step above it."""

from __future__ import annotations

import pytest

from labelstream.review.queue_counter import QueueCounter
from labelstream.settings import Settings


def test_the_count_is_exact_below_the_threshold_and_rounded_down_to_the_step_from_it_on() -> None:
    counter = QueueCounter(exact_below=20, step=5)
    assert [counter.shown(n) for n in (0, 1, 19)] == [(0, False), (1, False), (19, False)]
    assert [counter.shown(n) for n in (20, 24, 25, 103)] == [(20, True), (20, True), (25, True), (100, True)]
    assert [counter.text(n) for n in (19, 20, 24, 25)] == ["19", "20+", "20+", "25+"]
    assert QueueCounter(exact_below=0, step=10).text(0) == "0+"  # rounded from the start: "at least 0"


def test_gold_may_replace_a_claim_only_where_a_real_claim_would_not_change_what_is_shown() -> None:
    counter = QueueCounter(exact_below=10, step=10)
    allowed = [n for n in range(0, 45) if counter.gold_may_replace(n)]
    assert allowed == [*range(11, 20), *range(21, 30), *range(31, 40), *range(41, 45)]
    for exact_below, step in ((0, 2), (10, 10), (30, 5), (0, 1_000_000)):
        other = QueueCounter(exact_below, step)
        for n in range(0, 200):  # a real claim takes n to n - 1; a gold one leaves n: the same figure, or no gold
            assert other.gold_may_replace(n) == (n > 0 and other.text(n) == other.text(n - 1)), (exact_below, step, n)


@pytest.mark.parametrize(("exact_below", "step"), [(15, 10), (10, 1), (-10, 10)])
def test_a_threshold_off_the_steps_or_a_step_under_2_is_refused(exact_below: int, step: int) -> None:
    with pytest.raises(ValueError, match="multiple of"):
        QueueCounter(exact_below, step)


def test_the_settings_refuse_a_threshold_off_the_steps_and_name_both_settings() -> None:
    assert (Settings().review.queue_counter_exact_below, Settings().review.queue_counter_step) == (10, 10)
    with pytest.raises(
        ValueError,
        match=r"review.queue_counter_exact_below \(15\) must be a multiple of "
        r"review.queue_counter_step \(10\)",
    ):
        Settings(review={"queue_counter_exact_below": 15})
