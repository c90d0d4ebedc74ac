"""The calibrator: a threshold whose precision is below target is never proven, however often it is re-tested.

The guarantee tests count *runs* that ever prove a bad threshold while the thresholds are recomputed
after every answer, and compare that count with the binomial quantile the guarantee allows. Each
comes with a control: the same harness run on a procedure with the bug the guarantee excludes
(a fixed-time bound re-tested, weights ignored), which it must catch.
"""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest
from scipy.special import betaincinv
from scipy.stats import binom

from labelstream.core.calibration import PrecisionCalibrator, Selection

TARGET, CONFIDENCE = 0.95, 0.95
ALPHA = 1 - CONFIDENCE
# A short grid keeps these tests fast; the benchmark (`labelstream bench soundness`) runs the default grid.
GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
STARTS = (0.99, 0.9)


def allowed_false_runs(runs: int) -> int:
    """The most runs with a false proof a sound procedure shows, bar a 1-in-1000 accident."""
    return int(binom.ppf(0.999, runs, ALPHA))


def calibrator(**kw) -> PrecisionCalibrator:
    return PrecisionCalibrator(TARGET, CONFIDENCE, **{"grid": GRID, "scan_starts": STARTS, "check_window": 0, **kw})


def ever_proves(make, answers, below: float = 1.01) -> bool:
    """Whether the thresholds, recomputed after every answer, ever reach below ``below``."""
    cal = make()
    for score, correct, selection in answers:
        cal.learn_one("a", score, correct, selection)
        threshold = cal.threshold("a")
        if threshold is not None and threshold < below:
            return True
    return False


def flat_stream(seed: int, precision: float, n: int):
    """Uniform scores; every prediction right with the same ``precision`` (every threshold as good as the next)."""
    rng = random.Random(seed)
    return [(rng.uniform(0.5, 1.0), rng.random() < precision, None) for _ in range(n)]


def retested_clopper_pearson_ever_proves(seed: int, n: int, precision: float) -> bool:
    """The control for repeated testing: a fixed-time bound (Clopper–Pearson, fixed sequence from the top,
    thresholds with fewer than 60 answers skipped), fine once, re-tested after every answer of a flat stream."""
    rng = np.random.default_rng(seed)
    scores, right = rng.uniform(0.5, 1.0, n), rng.random(n) < precision
    proven, alive = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)  # per moment
    for t in sorted(GRID, reverse=True):
        answers, successes = np.cumsum(scores >= t), np.cumsum((scores >= t) & right)
        with np.errstate(invalid="ignore"):  # the same bound as lower_bound, for every moment at once
            bound = np.where(successes > 0, betaincinv(np.maximum(successes, 1), answers - successes + 1, ALPHA), 0.0)
        tested = answers >= 60
        proven |= alive & tested & (bound >= TARGET)
        alive &= ~(tested & (bound < TARGET))
    return bool(proven.any())


def test_a_threshold_at_the_target_is_proven_in_at_most_alpha_of_runs_despite_retesting_after_every_answer():
    """D1: precision at the target everywhere (no threshold is better), recomputed after each of 1500 answers."""
    runs = 100
    false_runs = sum(ever_proves(calibrator, flat_stream(seed, TARGET, 1500), below=1.0) for seed in range(runs))
    assert false_runs <= allowed_false_runs(runs)


def test_the_repeated_testing_harness_catches_a_fixed_time_bound():
    runs = 80
    false_runs = sum(retested_clopper_pearson_ever_proves(seed, 3000, TARGET) for seed in range(runs))
    assert false_runs > allowed_false_runs(runs)


def tilted_stream(seed: int, n: int, weighted: bool):
    """D2: above 0.95 the model is nearly always right and every record is reviewed; in [0.6, 0.95) it is
    right 85% of the time and a record is reviewed with probability 0.1. Precision above 0.7 is 0.937
    (above 0.8: 0.954): 0.7 and below are bad thresholds, which the over-sampled top hides unless answers
    are weighted."""
    rng = random.Random(seed)
    answers = []
    while len(answers) < n:
        if rng.random() < 0.5:
            score, precision, probability = rng.uniform(0.95, 1.0), 0.999, 1.0
        else:
            score, precision, probability = rng.uniform(0.6, 0.95), 0.85, 0.1
        if rng.random() >= probability:
            continue  # not reviewed
        design = Selection(probability, threshold=0.95, least_above=1.0, least_below=0.1) if weighted else None
        answers.append((score, rng.random() < precision, design))
    return answers


def test_weights_keep_an_over_sampled_region_from_proving_a_bad_threshold():
    runs = 60
    false_runs = sum(ever_proves(calibrator, tilted_stream(seed, 1500, weighted=True), below=0.75) for seed in range(runs))
    assert false_runs <= allowed_false_runs(runs)


def test_the_weights_harness_catches_ignored_weights():
    runs = 15
    false_runs = sum(ever_proves(calibrator, tilted_stream(seed, 1500, weighted=False), below=0.75) for seed in range(runs))
    assert false_runs > allowed_false_runs(runs)


def test_relative_weights_follow_the_design():
    design = Selection(0.5, threshold=0.9, least_above=0.02, least_below=0.1)
    weights = design.relative_weights(np.array([0.5, 0.89, 0.9, 0.99]))
    assert weights.tolist() == [0.04, 0.04, 0.04, 0.04]  # the rarest record anywhere above t: an audit at 0.02
    uncertain = Selection(0.1, threshold=0.9, least_above=0.5, least_below=0.1)
    assert uncertain.relative_weights(np.array([0.5, 0.95])).tolist() == [1.0, 1.0]


def test_no_valid_procedure_proves_with_fewer_flawless_answers_than_ville_allows():
    """Each flawless answer can at most multiply the wealth by 1/m, and the wealth must reach
    (number of scan starts)/alpha: fewer answers than that prove nothing, whatever the bets."""
    fewest = math.ceil(math.log(len(STARTS) / ALPHA) / math.log(1 / TARGET))
    cal = calibrator()
    for _ in range(fewest - 1):
        cal.learn_one("a", 0.995, True)
    assert cal.threshold("a") is None
    for _ in range(200 - fewest):
        cal.learn_one("a", 0.995, True)
    assert cal.threshold("a") == 0.99  # and it is not powerless: 200 flawless answers prove it


def test_the_lowest_proven_threshold_is_found_and_is_good():
    """Calibrated scores (right with probability = score): precision above t is (1 + t) / 2."""
    rng = random.Random(3)
    cal = PrecisionCalibrator(0.9, CONFIDENCE, check_window=0)
    for _ in range(6000):
        score = rng.uniform(0.5, 1.0)
        cal.learn_one("a", score, rng.random() < score)
    threshold = cal.threshold("a")
    assert threshold is not None
    assert (1 + threshold) / 2 >= 0.9  # the truth holds at the chosen threshold
    assert threshold <= 0.88  # the oracle's is 0.80: the price of a guarantee at every moment


def test_no_auto_accept_without_evidence_and_per_class():
    cal = calibrator()
    assert cal.threshold("cat") is None
    for _ in range(300):
        cal.learn_one("cat", 0.995, True)
    assert cal.threshold("cat") == 0.99 and cal.threshold("dog") is None
    assert cal.thresholds() == {"cat": 0.99}


def test_a_reset_forgets_the_gains_and_opens_a_generation():
    cal = calibrator()
    for _ in range(300):
        cal.learn_one("a", 0.995, True)
    assert cal.threshold("a") == 0.99
    cal.reset()
    assert cal.generation == 1 and len(cal) == 0 and cal.threshold("a") is None
    assert max(cal.log_wealth("a")) <= 0.0  # nothing carried over that could prove a threshold sooner
    fewest = math.ceil(math.log(len(STARTS) / ALPHA) / math.log(1 / TARGET))
    for _ in range(fewest - 1):
        cal.learn_one("a", 0.995, True)
    assert cal.threshold("a") is None


def test_a_deficit_survives_a_reset_but_stays_bounded():
    cal = calibrator()
    for _ in range(500):
        cal.learn_one("a", 0.995, False)
    cal.reset()
    assert -math.log(len(cal.bets) + 1) - 1e-9 <= cal.log_wealth("a")[-1] < 0.0  # the cash share bounds it
    for _ in range(400):
        cal.learn_one("a", 0.995, True)
    assert cal.threshold("a") == 0.99


def test_state_round_trip_continues_identically():
    rng = random.Random(1)
    cal = calibrator()
    for _ in range(2000):
        score = rng.uniform(0.5, 1.0)
        cal.learn_one(rng.choice("ab"), score, rng.random() < score, Selection(rng.choice([1.0, 0.2])))
    cal.reset()
    for _ in range(500):
        cal.learn_one("a", 0.995, True)
    copy = calibrator()
    copy.load_state(cal.state())
    assert copy.thresholds() == cal.thresholds() and copy.generation == cal.generation == 1
    for c in (cal, copy):
        c.learn_one("a", 0.995, False)
    assert (copy.log_wealth("a") == cal.log_wealth("a")).all()


def test_state_of_another_grid_is_not_adopted():
    cal = calibrator()
    for _ in range(300):
        cal.learn_one("a", 0.995, True)
    other = PrecisionCalibrator(TARGET, CONFIDENCE)
    other.load_state(cal.state())
    assert other.threshold("a") is None


@pytest.mark.parametrize("seed_base", [0])
def test_precision_estimate_is_unbiased_and_its_interval_covers(seed_base):
    """The dashboard estimate: stratified IPW over a design that audits the top at 0.05."""

    def inclusion(score):
        return 0.05 if score >= 0.85 else 0.6

    threshold, truth = 0.7, 0.5 + 0.25 * 1.7
    estimates, covered = [], 0
    for seed in range(seed_base, seed_base + 120):
        rng = random.Random(seed)
        cal = calibrator()
        for _ in range(2000):
            score = rng.random()
            probability = inclusion(score)
            if rng.random() < probability:
                cal.learn_one("a", score, rng.random() < 0.5 + 0.5 * score, Selection(probability))
        estimate = cal.precision_above("a", threshold)
        estimates.append(estimate.estimate)
        covered += estimate.lower <= truth <= estimate.upper
    standard_error = statistics.stdev(estimates) / len(estimates) ** 0.5
    assert abs(statistics.mean(estimates) - truth) < 3 * standard_error
    assert covered / len(estimates) >= 0.9  # nominal 0.95


def test_calibration_check_reports_a_drift_and_not_a_steady_stream():
    rng = random.Random(2)
    cal = PrecisionCalibrator()
    steady = [cal.learn_one("a", 0.95, rng.random() < 0.97) for _ in range(3000)]
    assert not any(steady)
    drifted = [cal.learn_one("a", 0.95, rng.random() < 0.6) for _ in range(200)]
    assert any(drifted[:60])


def test_review_probability_must_be_positive():
    with pytest.raises(ValueError):
        calibrator().learn_one("a", 0.9, True, Selection(0.0))


@pytest.mark.parametrize("seed", [9, 12, 18])
def test_calibration_check_stays_quiet_on_a_steady_stream(seed):
    """A steady stream (each answer right as often as expected) raises no alarm in 1,000 answers; a check at
    the earlier 1e-3 raises one on these seeds (the harness can fail: a false alarm every few thousand answers)."""
    from labelstream.core.calibration_check import CalibrationCheck

    def alarmed(check: CalibrationCheck) -> bool:
        rng = random.Random(seed)
        for _ in range(1000):
            expected = rng.choice((0.6, 0.8, 0.9, 0.97))
            if check.update("a", expected, rng.random() < expected):
                return True
        return False

    assert not alarmed(CalibrationCheck())
    assert alarmed(CalibrationCheck(alpha=1e-3))


def test_a_pause_withholds_every_class_while_recent_answers_contradict_the_calibration_and_forgets_nothing():
    """``pause_alpha``: a quicker check whose alarm only withholds — the threshold in force is the plain
    calibrator's or none, a drift seen in one class's answers pauses the others too, and the proofs come back
    when the answers agree again (no reset)."""
    rng = random.Random(6)
    plain, pausing = calibrator(check_window=50), calibrator(check_window=50, pause_alpha=0.01)

    def answer(label: str, score: float, right: bool) -> None:
        for cal in (plain, pausing):
            cal.learn_one(label, score, right)
        assert pausing.threshold("a") in (None, plain.threshold("a"))

    for _ in range(600):  # both classes calibrated: right 99.5 % of the time at 0.92
        answer(rng.choice("ab"), 0.92, rng.random() < 0.995)
    for _ in range(50):  # a steady stream is paused about 1 % of the time (a run of wrong answers): let it pass
        if pausing.paused:
            answer("b", 0.92, True)
    assert pausing.threshold("a") == plain.threshold("a") == 0.9 and not pausing.paused
    answer("b", 0.92, False)
    answer("b", 0.92, False)
    answer("b", 0.92, False)  # class b's answers turn: a is withheld before the reset check sees a drift
    assert pausing.paused == {"b"} and pausing.threshold("a") is None and plain.threshold("a") == 0.9
    assert pausing.generation == plain.generation == 0
    copy = calibrator(check_window=50, pause_alpha=0.01)  # labelers adopt the pause with the state
    copy.load_state(pausing.state())
    assert copy.paused == {"b"} and copy.threshold("a") is None
    for _ in range(60):
        answer("b", 0.92, True)
    assert not pausing.paused and pausing.threshold("a") == 0.9  # nothing was forgotten
