"""The conditional gold bound per reviewer (core/calibration_weighted_conditional.py; docs/contract.md, section 5,
"Conditional gold bound per reviewer"): a model exactly at the target, its answers bet against each reviewer's own
conditional bar, must be proven in at most alpha of runs however gold answers are spread over the reviewers — where
the pooled conditional bound is proven too often once the reviewer who takes the model's wrong proposals most often,
and answers most of the stream, has been served every gold item.

The harness is ``test_calibration_weighted.py``'s with the conditional bounds: each step one gold answer (its reviewer
drawn by the gold shares, shown a proposal from a gold set half wrong proposals) and one stream answer (by the stream
shares); reviewer ``j`` agrees with a right proposal ``r_j`` of the time and takes a wrong one ``b_j`` of the time,
on gold items as on the stream.
"""

from __future__ import annotations

import pickle
import random

import pytest
from scipy.stats import binom

from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_reviewers import ConditionalGoldBound
from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract_evidence import ContractEvidence

ALPHA = 0.05
NAMES = ("ann", "cy", "bo")
# (r_j, b_j): ann and cy seldom take a wrong proposal, bo takes 90 % of them (a follower)
FOLLOWER_POOL = {"ann": (0.99, 0.05), "cy": (0.99, 0.10), "bo": (0.99, 0.90)}
BUSY = (0.3, 0.1, 0.6)  # bo answers 60 % of the stream


def first_proof(
    seed: int,
    stream_shares: tuple[float, ...],
    gold_shares: tuple[float, ...],
    pool: dict[str, tuple[float, float]],
    weighted: bool,
    steps: int,
    precision: float = 0.95,
    bo_out_of_gold_at: int | None = None,
    gold_wrong_share: float = 0.5,
) -> int | None:
    """The step at which a threshold is first proven (``None``: never) for a model right ``precision`` of the time.
    ``bo_out_of_gold_at``: bo is served no gold item from then on (he answers the stream on)."""
    rng = random.Random(seed)
    gold = StreamWeightedConditionalGoldBound(0.025) if weighted else ConditionalGoldBound(0.025)
    cal = PrecisionCalibrator(
        0.95, 0.95, grid=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99), scan_starts=(0.99, 0.9), check_window=0
    )
    golds = gold_shares
    for step in range(steps):
        if step == bo_out_of_gold_at:
            golds = (*golds[:2], 0.0)
        name = rng.choices(NAMES, weights=golds)[0]
        right, (r, b) = rng.random() >= gold_wrong_share, pool[name]
        agreed = rng.random() < (r if right else b)
        gold.learn(right, agreed, name) if weighted else gold.learn(right, agreed)
        name = rng.choices(NAMES, weights=stream_shares)[0]
        if weighted:  # as the contract does: the reviewer's own bar, or no bet on them
            bar = gold.answer_bar(0.95, name)
            gold.count_answer(name)
        else:
            bar = gold.bar(0.95)
        r, b = pool[name]
        agrees = rng.random() < (r if rng.random() < precision else b)
        cal.learn_one("a", rng.uniform(0.9, 1.0), agrees, bar=bar, bet=bar is not None)
        if cal.threshold("a") is not None:
            return step
    return None


def _allowed(runs: int) -> float:
    return binom.ppf(0.999, runs, ALPHA)


def _proven(runs: int, *args, **kwargs) -> int:  # noqa: ANN002, ANN003
    return sum(first_proof(seed, *args, **kwargs) is not None for seed in range(runs))


def test_the_most_compliant_busiest_reviewer_out_of_gold_items_no_longer_lets_a_model_at_the_target_be_proven():
    """bo (takes 90 % of wrong proposals, 60 % of the stream) is served no gold item after 300 steps: the pooled B then
    drifts to ann's and cy's (about 0.06), the pooled bar to about 0.948, under a model at the target's agreement with
    the stream (0.95 * 0.99 + 0.05 * 0.565 = 0.969), and it is proven in 14 of 20 runs of 12,000 steps (here seeds
    0-9: 6); weighted, bo's answers keep his own bar (about 0.997) and ann's and cy's theirs: 0 of 20 measured."""
    runs = 20
    proven = _proven(runs, BUSY, BUSY, FOLLOWER_POOL, True, 12000, bo_out_of_gold_at=300)
    assert proven <= _allowed(runs), f"{proven} of {runs} runs proved"
    pooled = _proven(10, BUSY, BUSY, FOLLOWER_POOL, False, 12000, bo_out_of_gold_at=300)
    assert pooled > _allowed(10), f"the control: only {pooled} of 10 runs proved with the pooled conditional bound"


def test_with_a_follower_in_the_pool_and_gold_spread_as_the_stream_a_good_model_is_still_proven():
    """Not vacuous: gold spread as the stream, a model right 99 % of the time, 6,000 steps. Weighted, ann's and cy's
    answers are held to their own bars (about 0.947 and 0.949; bo's compliance no longer raises them): 10 of 10 runs
    prove (median 1,456.5 steps); pooled, bo's compliance raises everyone's bar (about 0.969): 5 of 10 (median
    2,375)."""
    weighted = _proven(10, BUSY, BUSY, FOLLOWER_POOL, True, 6000, precision=0.99)
    pooled = _proven(10, BUSY, BUSY, FOLLOWER_POOL, False, 6000, precision=0.99)
    assert weighted >= 8 and pooled <= 7, f"weighted {weighted}, pooled {pooled} of 10 proved"


def test_a_reviewer_alone_gets_the_pooled_bar_at_their_share_of_alpha_in_the_order_of_first_gold_answers():
    bound = StreamWeightedConditionalGoldBound(alpha=0.024)
    alone = {name: ConditionalGoldBound(alpha) for name, alpha in (("cy", 0.012), ("ann", 0.004), ("bo", 0.002))}
    rng = random.Random(3)
    for i in range(900):
        name, right = ("cy", "ann", "bo")[i % 3], i % 2 == 0
        agreed = right if rng.random() < 0.9 else not right
        bound.learn(right, agreed, name)
        alone[name].learn(right, agreed)
    assert list(bound.reviewers) == ["cy", "ann", "bo"]
    for name, single in alone.items():
        assert bound.bar_of(0.95, name) == single.bar(0.95) < 1.0
    assert bound.bar_of(0.95, "dee") == 1.0 and bound.answer_bar(0.95, "dee") is None  # nothing measured: no bet


def test_no_bet_without_a_b_checkpoint_nor_on_a_reviewer_whose_agreement_with_right_proposals_is_under_their_bar():
    bound = StreamWeightedConditionalGoldBound(alpha=0.025)
    for _ in range(200):
        bound.learn(True, True, "ann")  # right proposals only: B_ann has no checkpoint, the bar is 1
    assert bound.bar_of(0.95, "ann") == 1.0 and bound.answer_bar(0.95, "ann") is None
    for i in range(20):
        bound.learn(False, i % 10 == 0, "ann")  # takes 10 % of wrong proposals
    assert 0.95 < bound.bar_of(0.95, "ann") < 1.0 and bound.answer_bar(0.95, "ann") == bound.bar_of(0.95, "ann")
    for i in range(400):  # bo agrees with a right proposal 80 % of the time and takes 95 % of wrong ones: his bar is
        # B_bo, above his agreement with a right proposal, so even a perfect model loses on his answers
        bound.learn(i % 2 == 0, i % 10 != 0 if i % 2 == 0 else i % 40 != 1, "bo")
    assert 0.5 < bound.bar_of(0.95, "bo") < 1.0 and bound.answer_bar(0.95, "bo") is None


def _contract() -> ContractEvidence:
    from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound as Bound

    return ContractEvidence(PrecisionCalibrator(0.95, 0.95, check_window=0), gold_bound=Bound(0.025))


def _evidence(score: float, answer: str, reviewer: str | None) -> Evidence:
    return Evidence(
        Prediction.from_probabilities({"a": score, "b": 1 - score}),
        answer,
        reason="cold_start",
        context={"outcome": "review", "generation": 0, "p_review": 1.0, "p_least": 1.0},
        reviewer=reviewer,
    )


def _feed(evidence: ContractEvidence, start: int, steps: int) -> None:
    """Gold answers of ann (takes 5 % of wrong proposals), cy (10 %) and bo (90 %), cy first; real answers."""
    for i in range(start, start + steps):
        right = i % 2 == 0
        for name, takes in (("cy", 2), ("ann", 1), ("bo", 18)):  # of 20 wrong proposals
            assert evidence.learn_gold(True, right, right or (i // 2) % 20 < takes, reviewer=name)
        for name in ("ann", "cy", "bo", "ann"):
            evidence.learn(_evidence(0.96, "a" if i % 30 else "b", name))


def test_the_contract_bets_each_answer_against_its_reviewers_conditional_bar_and_shows_their_stream_mean():
    evidence = _contract()
    assert evidence.calibrator.bar == 1.0  # nothing measured, no answer: nothing provable
    assert not evidence.learn_gold(True, reviewer="ann")  # no proposal shown: nothing learned
    _feed(evidence, 0, 200)
    bars = {name: evidence.reviewer_bar(name) for name in ("ann", "cy", "bo")}
    assert bars["ann"] == evidence.gold_bound.answer_bar(0.95, "ann") and bars["ann"] < bars["cy"] < bars["bo"] < 1
    # the bar shown: the stream-share mean of the answers' bars (ann half of the answers, cy and bo a quarter each)
    assert evidence.calibrator.bar == pytest.approx(bars["ann"] / 2 + bars["cy"] / 4 + bars["bo"] / 4)
    with pytest.raises(ValueError, match="alone"):
        ContractEvidence(
            PrecisionCalibrator(0.95, 0.95, reviewer_accuracy=0.97),
            gold_bound=StreamWeightedConditionalGoldBound(0.025),
        )


def test_the_contracts_state_restores_each_reviewers_bar_and_alpha_share_and_goes_on_as_before():
    """What a restarted learner adopts from its pickled snapshot: the same bars per reviewer (cy first in the order of
    first gold answers: not by name), the same bar shown, and after more answers the same state and wealth; a pooled
    conditional bound's state is not adopted."""
    original = _contract()
    _feed(original, 0, 60)
    restored = _contract()
    restored.load_state(pickle.loads(pickle.dumps(original.state())))
    assert list(restored.gold_bound.reviewers) == ["cy", "ann", "bo"]
    assert restored.gold_bound.state() == original.gold_bound.state()
    assert restored.calibrator.bar == original.calibrator.bar < 1.0
    _feed(original, 60, 200)  # later checkpoints spend each reviewer's share of alpha by their place in the order
    _feed(restored, 60, 200)
    assert restored.gold_bound.state() == original.gold_bound.state()
    assert (restored.calibrator.log_wealth("a") == original.calibrator.log_wealth("a")).all()
    pooled = ContractEvidence(PrecisionCalibrator(0.95, 0.95, check_window=0), gold_bound=ConditionalGoldBound(0.025))
    pooled.learn_gold(True, True, True)
    fresh = _contract()
    fresh.load_state(pooled.state())
    assert fresh.gold_bound.state()["reviewers"] == {}
