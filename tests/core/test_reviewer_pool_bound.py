"""The pooled gold accuracy bound with several reviewers (docs/contract.md, section 5, "Several reviewers"): what it
assumes of a pool, checked against a model exactly at the target.

The bar must be at least the agreement of a threshold at the target with the reviewers *answering the stream*,
weighed by their stream shares: ``h(m, sum w_j a_j)``. The pooled gold bound bounds the gold-weighted accuracy on
gold items. So:

- gold answers spread as the stream's, each reviewer as accurate on gold as on the stream: sound;
- a reviewer *more* accurate on gold than on the stream (right on every gold item, wrong on real ones) overstates
  the pool's accuracy: the bar is higher than needed — sound, only slower; no hold catches them;
- a bad reviewer giving *more* of the gold answers than of the stream's (their gold share above their stream
  share) understates it: the bar is too low and a model at the target is proven — the assumption "gold answers
  spread over the reviewers as the stream's do" broken, which the simulation's pool meets by construction (a
  reviewer answers the gold items beside their own records);
- the busiest, best reviewer served every gold item (none more for her, docs/review.md, Gold items, Serving):
  the gold answers lean to the others from then on — the same break, the unsafe way;
- a held reviewer's gold answers counted under another's name stay in the bound after the hold: the bar stays
  low while only the good reviewers answer (what ``tests/simulate/test_reviewer_pool.py`` checks end to end).
"""

from __future__ import annotations

import random

from scipy.stats import binom

from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_holds import HeldGoldAccuracyBound
from labelstream.core.calibration_reviewers import GoldAccuracyBound

ALPHA = 0.05
NAMES = ("ann", "cy", "bo")


def _draw(rng: random.Random, shares: tuple[float, ...]) -> str:
    return rng.choices(NAMES, weights=shares)[0]


def proves(
    seed: int, stream_shares: tuple[float, ...], gold_shares: tuple[float, ...], stream_accuracy: dict[str, float],
    gold_accuracy: dict[str, float], steps: int = 3000, hold_at: int | None = None, gold_name_of_bo: str = "bo",
    ann_out_of_gold_at: int | None = None,
) -> bool:
    """A model exactly at the target (0.95, against the truth); each step one stream answer (its reviewer drawn by
    ``stream_shares``) and one gold answer (by ``gold_shares``), the bar following the gold bound as the policy sets
    it. With ``hold_at``, bo is held then (he answers nothing more, the bound told); ``gold_name_of_bo``: the name
    bo's gold answers are counted under; ``ann_out_of_gold_at``: ann was served every gold item then (she answers
    the stream on, no gold item more: the review service never serves one twice). Whether a threshold is ever proven (it must not be, but in alpha of runs)."""
    rng = random.Random(seed)
    gold = HeldGoldAccuracyBound(0.025) if hold_at is not None else GoldAccuracyBound(0.025)
    cal = PrecisionCalibrator(0.95, 0.95, grid=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99), scan_starts=(0.99, 0.9),
                              check_window=0)
    stream, golds = stream_shares, gold_shares
    for step in range(steps):
        if step == hold_at:
            gold.hold("bo")
            stream, golds = stream_shares[:2] + (0.0,), gold_shares[:2] + (0.0,)
        if step == ann_out_of_gold_at:
            golds = (0.0,) + golds[1:]
        name = _draw(rng, golds)
        right = rng.random() < gold_accuracy[name]
        if isinstance(gold, HeldGoldAccuracyBound):
            gold.learn(right, gold_name_of_bo if name == "bo" else name)
        else:
            gold.learn(right)
        if gold.upper() != cal.reviewer_accuracy:
            cal.set_reviewer_accuracy(gold.upper())
        name = _draw(rng, stream)
        model_right, reviewer_right = rng.random() < 0.95, rng.random() < stream_accuracy[name]
        cal.learn_one("a", rng.uniform(0.9, 1.0), model_right == reviewer_right)  # agreement with a binary reviewer
        if cal.threshold("a") is not None:
            return True
    return False


HONEST = {"ann": 0.99, "cy": 0.98, "bo": 0.75}
EVEN = (1.0, 1.0, 1.0)


def _allowed(runs: int) -> float:
    return binom.ppf(0.999, runs, ALPHA)


def test_an_honest_pool_with_gold_spread_as_the_stream_proves_a_model_at_the_target_in_at_most_alpha_of_runs():
    runs = 30
    assert sum(proves(seed, EVEN, EVEN, HONEST, HONEST) for seed in range(runs)) <= _allowed(runs)


def test_a_reviewer_right_on_gold_but_wrong_on_real_items_overstates_the_pool_which_is_only_slower():
    """bo is right on every gold item and wrong 25 % of the time on the stream: the pooled gold accuracy (about
    0.99) overstates the pool's (0.907), the bar (about 0.94) is above a model at the target's agreement (0.87).
    Sound — and nothing catches bo: a hold reads gold answers only."""
    runs = 30
    gamer = {**HONEST, "bo": 1.0}
    assert sum(proves(seed, EVEN, EVEN, HONEST, gamer) for seed in range(runs)) <= _allowed(runs)


def test_the_harness_catches_a_bad_reviewer_giving_more_of_the_gold_answers_than_of_the_streams():
    """bo (wrong 40 %) answers a tenth of the stream but a third of the gold items: the gold-weighted accuracy
    (0.857) is below the stream-weighted one (0.947), the bar (about 0.83) below a model at the target's agreement
    (0.90): proven in most runs. The assumption the pool must meet; the control of the two tests above."""
    bad = {**HONEST, "bo": 0.6}
    proven = sum(proves(seed, (0.45, 0.45, 0.1), EVEN, bad, bad) for seed in range(6))
    assert proven > binom.ppf(0.999, 6, ALPHA), f"only {proven} of 6 runs proved"


def test_a_held_reviewers_gold_counted_under_another_name_keeps_the_bar_low_after_the_hold():
    """bo (wrong 40 %) is held after 600 steps; only ann and cy answer after. Counted under his own name his gold
    answers leave with the hold and a model at the target is proven in at most alpha of runs; counted under cy's
    (pool accounting gone wrong) they stay, the bar stays near the pool's and the model is proven in most runs."""
    bad = {**HONEST, "bo": 0.6}
    runs = 30
    right = sum(proves(seed, EVEN, EVEN, bad, bad, hold_at=600) for seed in range(runs))
    assert right <= _allowed(runs)
    wrong = sum(proves(seed, EVEN, EVEN, bad, bad, hold_at=600, gold_name_of_bo="cy") for seed in range(6))
    assert wrong > binom.ppf(0.999, 6, ALPHA), f"only {wrong} of 6 runs proved with bo's gold counted as cy's"


def test_the_busiest_best_reviewer_out_of_gold_items_lets_a_model_at_the_target_be_proven():
    """ann (right 99 %) answers 60 % of the stream, cy (98 %) 30 %, bo (60 %) 10 %, gold spread the same; 12,000
    steps. With the gold answers spread as the stream's, a model at the target is proven in none of 20 runs; with
    ann served every gold item after 300 steps (the review service serves none twice), the gold answers come from
    cy and bo alone (gold-weighted accuracy 0.885 against the stream's 0.948), the bar falls under a model at the
    target's agreement (0.90) and it is proven in 7 of 20 (at most 5 allowed at alpha 0.05): why the service warns
    (LabelstreamReviewerGoldUsedUp). Slower than a lean from the start: 0 of 10 prove within 3,000 steps."""
    busy, bad = (0.6, 0.3, 0.1), {**HONEST, "bo": 0.6}
    runs = 20
    assert sum(proves(seed, busy, busy, bad, bad, steps=12000) for seed in range(runs)) == 0
    out = sum(proves(seed, busy, busy, bad, bad, steps=12000, ann_out_of_gold_at=300) for seed in range(runs))
    assert out > _allowed(runs), f"only {out} of {runs} runs proved with ann out of gold items"
