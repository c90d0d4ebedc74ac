"""The stream-share-weighted gold bound (core/calibration_weighted.py; docs/contract.md, section 5,
"Stream-share-weighted gold bound"): a model exactly at the target, its answers bet against each reviewer's own bar,
must be proven in at most alpha of runs however the gold answers are spread over the reviewers — where the pooled
gold bound is proven too often — and cost little more than the pooled one when gold spreads as the stream does.

The harness is ``tests/core/test_reviewer_pool_bound.py``'s, with the bound chosen: each step one gold answer (its
reviewer drawn by the gold shares) and one stream answer (by the stream shares), a binary reviewer, the bar set before
each stream answer as the policy sets it (pooled: the bound in force; weighted: the answering reviewer's).
"""

from __future__ import annotations

import pickle
import random
import statistics

import pytest
from scipy.stats import binom

from labelstream.core.calibration import PrecisionCalibrator, Selection, agreement_bar
from labelstream.core.calibration_recheck import VersionRecheck
from labelstream.core.calibration_reviewers import GoldAccuracyBound
from labelstream.core.calibration_weighted import StreamWeightedGoldBound, answer_bar
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract_evidence import ContractEvidence

ALPHA = 0.05
NAMES = ("ann", "cy", "bo")
BAD_POOL = {"ann": 0.99, "cy": 0.98, "bo": 0.6}
BUSY = (0.6, 0.3, 0.1)  # ann answers 60 % of the stream


def first_proof(
    seed: int,
    stream_shares: tuple[float, ...],
    gold_shares: tuple[float, ...],
    accuracy: dict[str, float],
    weighted: bool,
    steps: int,
    precision: float = 0.95,
    ann_out_of_gold_at: int | None = None,
    bo_held_at: int | None = None,
) -> int | None:
    """The step at which a threshold is first proven (``None``: never) for a model right ``precision`` of the time
    (against the truth). ``ann_out_of_gold_at``: ann is served no gold item from then on (she answers the stream on);
    ``bo_held_at``: bo answers nothing from then on (a hold; the weighted bound is not told)."""
    rng = random.Random(seed)
    gold = StreamWeightedGoldBound(0.025) if weighted else GoldAccuracyBound(0.025)
    cal = PrecisionCalibrator(
        0.95, 0.95, grid=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99), scan_starts=(0.99, 0.9), check_window=0
    )
    stream, golds = stream_shares, gold_shares
    for step in range(steps):
        if step == ann_out_of_gold_at:
            golds = (0.0, *golds[1:])
        if step == bo_held_at:
            stream, golds = (*stream[:2], 0.0), (*golds[:2], 0.0)
        name = rng.choices(NAMES, weights=golds)[0]
        right = rng.random() < accuracy[name]
        gold.learn(right, name) if weighted else gold.learn(right)
        name = rng.choices(NAMES, weights=stream)[0]
        if weighted:  # as the contract does: the reviewer's bar, or no bet on them
            bar = answer_bar(0.95, gold.upper_of(name), *gold.counts_of(name))
            gold.count_answer(name)
        else:
            bar = agreement_bar(0.95, gold.upper())
        model_right, reviewer_right = rng.random() < precision, rng.random() < accuracy[name]
        cal.learn_one("a", rng.uniform(0.9, 1.0), model_right == reviewer_right, bar=bar, bet=bar is not None)
        if cal.threshold("a") is not None:
            return step
    return None


def _allowed(runs: int) -> float:
    return binom.ppf(0.999, runs, ALPHA)


def _proven(runs: int, *args, **kwargs) -> int:  # noqa: ANN002, ANN003
    return sum(first_proof(seed, *args, **kwargs) is not None for seed in range(runs))


def test_the_busiest_best_reviewer_out_of_gold_items_no_longer_lets_a_model_at_the_target_be_proven():
    """ann (right 99 %, 60 % of the stream) is served no gold item after 300 steps: the pooled bound then leans to cy
    and bo and proves a model at the target in 7 of 20 runs (test_reviewer_pool_bound.py); weighted, ann's answers
    keep her own bound (still valid) and bo's his: at most alpha of runs (0 of 20 measured)."""
    runs = 20
    proven = _proven(runs, BUSY, BUSY, BAD_POOL, True, 12000, ann_out_of_gold_at=300)
    assert proven <= _allowed(runs), f"{proven} of {runs} runs proved"
    pooled = _proven(runs, BUSY, BUSY, BAD_POOL, False, 12000, ann_out_of_gold_at=300)
    assert pooled > _allowed(runs), f"the control: only {pooled} of {runs} runs proved with the pooled bound"


def test_a_bad_reviewer_giving_more_of_the_gold_answers_than_of_the_streams_is_weighed_by_the_stream():
    """bo (right 60 %) gives a third of the gold answers, a tenth of the stream's: pooled, the bar falls under a model
    at the target's agreement and 5 of 6 runs prove (test_reviewer_pool_bound.py); weighted, at most alpha of 30."""
    uneven = (0.45, 0.45, 0.1)
    runs = 30
    proven = _proven(runs, uneven, (1.0, 1.0, 1.0), BAD_POOL, True, 3000)
    assert proven <= _allowed(runs), f"{proven} of {runs} runs proved"
    pooled = _proven(6, uneven, (1.0, 1.0, 1.0), BAD_POOL, False, 3000)
    assert pooled > binom.ppf(0.999, 6, ALPHA), f"the control: only {pooled} of 6 runs proved with the pooled bound"


def test_a_held_reviewer_needs_no_rule():
    """bo (right 60 %) held after 600 steps answers nothing more: his gold answers only ever bounded his own answers,
    so the weighted bound, told nothing, proves a model at the target in at most alpha of runs."""
    runs = 30
    even = (1.0, 1.0, 1.0)
    assert _proven(runs, even, even, BAD_POOL, True, 3000, bo_held_at=600) <= _allowed(runs)


@pytest.mark.parametrize(
    ("accuracy", "most"),
    [({"ann": 0.99, "cy": 0.98, "bo": 0.97}, 1.10), ({"ann": 0.97, "cy": 0.97, "bo": 0.97}, 1.60)],
    ids=["99-98-97", "97-97-97"],
)
def test_with_gold_spread_as_the_stream_a_model_above_the_target_is_proven_nearly_as_soon(accuracy, most):
    """The price of weighing: each reviewer's bound sees a third of the gold answers at a share of the error. A model
    right 99 % of the time, gold and stream spread evenly, 20 runs: every run proves either way; the median step of
    the first proof, weighted over pooled, measured 723.5 / 708 = 1.02 (reviewers right 99, 98, 97 %) and 1818.5 /
    1190.5 = 1.53 (all right 97 %: the worst case, where no reviewer's bound is near 1)."""
    even = (1.0, 1.0, 1.0)
    weighted = [first_proof(seed, even, even, accuracy, True, 20000, precision=0.99) for seed in range(20)]
    pooled = [first_proof(seed, even, even, accuracy, False, 20000, precision=0.99) for seed in range(20)]
    assert None not in weighted and None not in pooled
    ratio = statistics.median(weighted) / statistics.median(pooled)
    assert 1.0 <= ratio <= most, f"weighted / pooled median steps to prove: {ratio:.3f}"


def test_with_a_bad_reviewer_in_an_even_pool_no_bet_on_them_lets_the_good_ones_prove():
    """ann, cy and bo right 99, 98 and 75 %, gold and stream spread evenly, a model right 99 % of the time: the pooled
    bar (the pool right 0.907) is beaten by the model's agreement with the pool by little, and 2 of 20 runs prove
    within 20,000 steps (median 4,132.5); weighted, bo's answers get no bet once his gold accuracy is, with 95 %
    confidence, under his bar, and ann's and cy's are held to their own: 14 of 20 (median 1,379). Here 10 runs of
    6,000 steps: 8 and 0 measured."""
    even, pool = (1.0, 1.0, 1.0), {"ann": 0.99, "cy": 0.98, "bo": 0.75}
    weighted = _proven(10, even, even, pool, True, 6000, precision=0.99)
    pooled = _proven(10, even, even, pool, False, 6000, precision=0.99)
    assert weighted >= 6 and pooled <= 2, f"weighted {weighted}, pooled {pooled} of 10 proved"


def test_each_reviewer_gets_a_share_of_alpha_in_the_order_of_their_first_gold_answer_and_keeps_it_in_the_state():
    bound = StreamWeightedGoldBound(alpha=0.024, first=10)
    for i in range(60):
        bound.learn(i % 20 != 0, ("cy", "ann", "bo")[i % 3])
    assert [b.alpha for b in bound._bounds.values()] == pytest.approx([0.012, 0.004, 0.002])
    copy = StreamWeightedGoldBound(alpha=0.024, first=10)
    copy.load_state(bound.state())
    assert copy.reviewers == bound.reviewers and list(copy.reviewers) == ["cy", "ann", "bo"]
    assert [b.alpha for b in copy._bounds.values()] == pytest.approx([0.012, 0.004, 0.002])
    for _ in range(40):
        bound.learn(True, "cy")
        copy.learn(True, "cy")
    assert copy.upper_of("cy") == bound.upper_of("cy") < 1.0
    assert copy.upper_of("dee") == 1.0  # no gold answer: nothing assumed


def test_the_weighted_accuracy_is_the_stream_shares_mean_of_the_reviewers_bounds():
    bound = StreamWeightedGoldBound(alpha=0.025, first=20)
    for i in range(40):
        bound.learn(True, "ann")
        bound.learn(i % 2 == 0, "bo")
    assert bound.upper() == 1.0  # no real answer counted yet
    for name in ("ann",) * 9 + ("bo",):
        bound.count_answer(name)
    assert bound.upper() == pytest.approx(0.9 * bound.upper_of("ann") + 0.1 * bound.upper_of("bo"))
    assert bound.upper_of("bo") < 0.8 and bound.upper_of("ann") == 1.0


def _evidence(score: float, answer: str, reviewer: str | None) -> Evidence:
    return Evidence(
        Prediction.from_probabilities({"a": score, "b": 1 - score}),
        answer,
        reason="cold_start",
        context={"outcome": "review", "generation": 0, "p_review": 1.0, "p_least": 1.0},
        reviewer=reviewer,
    )


def test_the_contract_bets_each_answer_against_its_own_reviewers_bar():
    """Two contracts learn the same gold answers and the same stream answers; one is told the answers were the bad
    reviewer's, the other the good one's: the first keeps a lower bar for them, so its wealth grows faster; an answer
    of a reviewer never seen on a gold item is held to the target (accuracy 1)."""

    def contract() -> ContractEvidence:
        evidence = ContractEvidence(
            PrecisionCalibrator(0.95, 0.95, check_window=0), gold_bound=StreamWeightedGoldBound(0.025, first=20)
        )
        for i in range(2000):
            evidence.learn_gold(True, reviewer="ann")
            evidence.learn_gold(i % 20 != 0, reviewer="bo")  # right 95 %
        return evidence

    as_bo, as_ann, as_stranger = contract(), contract(), contract()
    assert as_bo.reviewer_bar("ann") == 0.95 and as_bo.reviewer_bar("dee") == 0.95
    assert as_bo.reviewer_bar("bo") == pytest.approx(agreement_bar(0.95, as_bo.gold_bound.upper_of("bo")))
    assert as_bo.reviewer_bar("bo") < 0.93  # under bo's 95 % right on gold: bet on
    for i in range(200):
        for evidence, name in ((as_bo, "bo"), (as_ann, "ann"), (as_stranger, "dee")):
            evidence.learn(_evidence(0.96, "a" if i % 20 else "b", name))
    wealth = {
        name: e.calibrator.log_wealth("a")[0] for name, e in (("bo", as_bo), ("ann", as_ann), ("dee", as_stranger))
    }
    assert wealth["bo"] > wealth["ann"] == wealth["dee"]
    # the bar shown is the stream's: only bo answered
    assert as_bo.calibrator.reviewer_accuracy == pytest.approx(as_bo.gold_bound.upper_of("bo"))
    assert as_ann.calibrator.reviewer_accuracy == 1.0


class _Constant:
    def predict_many(self, xs):  # noqa: ANN001, ANN201
        return [Prediction.from_probabilities({"a": 0.96, "b": 0.04}) for _ in xs]


def test_the_recheck_holds_each_kept_answer_to_its_reviewers_bar():
    """The same kept answers (90 % agreeing with a constant model at 0.96): against the target's bar (0.95) they fail;
    each kept with a reviewer whose bar is 0.8 they pass; the bar of an answer kept without a reviewer is the one
    given for ``None``."""

    def rechecked(reviewer: str | None, bar_of) -> tuple[float, ...]:  # noqa: ANN001
        recheck = VersionRecheck(alpha=0.05)
        for i in range(400):
            recheck.keep({"x": 1.0}, "a" if i % 10 else "b", 1.0, reviewer)
        return recheck.run(_Constant(), {"a": 0.9}, bar=0.95, bar_of=bar_of)["a"]

    assert rechecked("bo", None) == ()
    assert 0.9 in rechecked("bo", lambda name: 0.8 if name == "bo" else 0.95)
    assert rechecked(None, lambda name: 0.8 if name == "bo" else 0.95) == ()
    assert rechecked("bo", lambda name: None) == ()  # no bet on any answer: nothing validated
    state = VersionRecheck()
    state.keep({"x": 1.0}, "a", 1.0, "bo")
    restarted = VersionRecheck()
    restarted.load_kept(state.kept_state())
    assert restarted.kept_state() == state.kept_state() and state.kept_state()["reviewers"] == ["bo"]


def test_a_bar_of_its_own_for_one_answer_leaves_the_bar_in_force():
    cal = PrecisionCalibrator(0.95, 0.95, check_window=0)
    cal.learn_one("a", 0.96, True, Selection(), bar=0.8)
    other = PrecisionCalibrator(0.95, 0.95, check_window=0)
    other.set_agreement_bar(0.8)
    other.learn_one("a", 0.96, True)
    assert cal.bar == 0.95 and (cal.log_wealth("a") == other.log_wealth("a")).all()


def test_no_bet_on_a_reviewer_no_better_than_chance_nor_on_one_whose_gold_is_under_their_bar():
    """Section 5's bar needs reviewers right more than half the time: a reviewer whose bound is 1/2 or below (here
    right 20 % of the time on gold) gets no bet (a stake of 0), so they never prove anything, and nothing breaks; nor
    does one right on gold, with 95 % confidence, less often than their own bar (bo, 60 %: a perfect model loses)."""
    evidence = ContractEvidence(
        PrecisionCalibrator(0.95, 0.95, check_window=0), gold_bound=StreamWeightedGoldBound(0.025, first=20)
    )
    for i in range(80):
        evidence.learn_gold(i % 10 < 2, reviewer="zed")
    assert evidence.gold_bound.upper_of("zed") < 0.5 and evidence.reviewer_bar("zed") is None
    for i in range(80):
        evidence.learn_gold(i % 5 < 3, reviewer="bo")  # right 60 %
        evidence.learn_gold(True, reviewer="ann")
    assert 0.5 < evidence.gold_bound.upper_of("bo") and evidence.reviewer_bar("bo") is None
    assert evidence.reviewer_bar("ann") == 0.95
    for _ in range(300):
        evidence.learn(_evidence(0.96, "a", "zed"))  # all agreeing: still nothing proven, no bet placed
        evidence.learn(_evidence(0.96, "a", "bo"))
    assert evidence.threshold("a") is None and (evidence.calibrator.log_wealth("a") == 0.0).all()
    assert evidence.calibrator.answers == 600 and evidence.calibrator.reviewer_accuracy == 1.0


def test_the_contracts_state_restores_each_reviewers_bar_and_alpha_share_and_goes_on_as_before():
    """What a restarted learner adopts from its snapshot (the policy state, pickled): a contract rebuilt from it holds
    each reviewer's answers to the same bar (cy before bo in the order of first gold answers: not by name), shows the
    same stream-share accuracy, and, fed the same gold and real answers afterwards, stays identical to the original
    (a later checkpoint spends each reviewer's share of alpha by their place in the order)."""

    def contract() -> ContractEvidence:
        return ContractEvidence(
            PrecisionCalibrator(0.95, 0.95, check_window=0), gold_bound=StreamWeightedGoldBound(0.025, first=20)
        )

    def feed(evidence: ContractEvidence, start: int, steps: int) -> None:
        for i in range(start, start + steps):
            evidence.learn_gold(i % 25 != 3, reviewer="ann")
            evidence.learn_gold(i % 40 != 5, reviewer="cy")
            evidence.learn_gold(i % 5 < 3, reviewer="bo")  # right 60 %: not bet on
            for name in ("ann", "cy", "bo", "ann"):
                evidence.learn(_evidence(0.96, "a" if i % 30 else "b", name))

    original = contract()
    feed(original, 0, 60)
    restored = contract()
    restored.load_state(pickle.loads(pickle.dumps(original.state())))
    assert list(restored.gold_bound.reviewers) == ["ann", "cy", "bo"]
    assert restored.gold_bound.state() == original.gold_bound.state()
    assert [restored.reviewer_bar(name) for name in ("ann", "cy", "bo")] == [
        original.reviewer_bar(name) for name in ("ann", "cy", "bo")
    ]
    assert original.reviewer_bar("bo") is None and original.reviewer_bar("cy") < 0.95
    assert restored.calibrator.reviewer_accuracy == original.calibrator.reviewer_accuracy < 1.0
    feed(original, 60, 100)  # checkpoints at 80 and 160 gold answers each, after the restore
    feed(restored, 60, 100)
    assert restored.gold_bound.state() == original.gold_bound.state()
    assert (restored.calibrator.log_wealth("a") == original.calibrator.log_wealth("a")).all()
    assert restored.calibrator.reviewer_accuracy == original.calibrator.reviewer_accuracy
