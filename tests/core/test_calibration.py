"""The calibrator: unbiased IPW estimates, no auto-accept without evidence, a valid threshold scan, forgetting."""

from __future__ import annotations

import random
import statistics

import pytest

from labelstream.core.calibration import PrecisionCalibrator


def precision_of(score: float) -> float:
    """The generator's chance that a prediction at ``score`` is right."""
    return 0.5 + 0.5 * score


def true_precision_above(threshold: float) -> float:
    """Mean of precision_of over scores uniform in [threshold, 1]."""
    return 0.5 + 0.25 * (1.0 + threshold)


def inclusion(score: float) -> float:
    """Review probability by score, as a policy would: audits above 0.85, uncertainty sampling below."""
    return 0.05 if score >= 0.85 else 0.6


def reviewed_stream(seed: int, records: int = 2000):
    """Evidence of one run: each record is reviewed with its inclusion probability."""
    rng = random.Random(seed)
    for _ in range(records):
        score = rng.random()
        probability = inclusion(score)
        if rng.random() < probability:
            yield score, rng.random() < precision_of(score), probability


@pytest.mark.parametrize("estimator", ["stratified", "hajek"])
def test_ipw_estimate_is_unbiased_over_many_seeds(estimator):
    threshold, truth = 0.7, true_precision_above(0.7)
    estimates, covered = [], 0
    for seed in range(120):
        calibrator = PrecisionCalibrator(window=10_000, estimator=estimator, check_window=0)
        for score, correct, probability in reviewed_stream(seed):
            calibrator.learn_one("a", score, correct, probability)
        estimate = calibrator.precision_above("a", threshold)
        estimates.append(estimate.estimate)
        covered += estimate.lower <= truth <= estimate.upper
    standard_error = statistics.stdev(estimates) / len(estimates) ** 0.5
    assert abs(statistics.mean(estimates) - truth) < 3 * standard_error
    assert covered / len(estimates) >= 0.9  # nominal 0.95


def test_unweighted_mean_of_the_same_evidence_is_biased():
    """The check above can fail: ignoring inclusion probabilities under-counts the audited top scores."""
    threshold, truth = 0.7, true_precision_above(0.7)
    naive = []
    for seed in range(50):
        answers = [c for s, c, _ in reviewed_stream(seed) if s >= threshold]
        naive.append(sum(answers) / len(answers))
    assert statistics.mean(naive) < truth - 0.02


def test_no_auto_accept_without_evidence():
    calibrator = PrecisionCalibrator()
    assert calibrator.threshold("cat") is None
    for _ in range(500):
        calibrator.learn_one("cat", 0.99, True)
    assert calibrator.threshold("cat") is not None
    assert calibrator.threshold("dog") is None
    assert calibrator.thresholds() == {"cat": calibrator.threshold("cat")}


def test_too_little_evidence_proves_nothing_even_when_flawless():
    calibrator = PrecisionCalibrator(target_precision=0.95, confidence_level=0.95)
    for _ in range(int(calibrator.evidence_to_prove(0)) - 1):
        calibrator.learn_one("cat", 0.99, True)
    assert calibrator.threshold("cat") is None


def test_scan_controls_the_error_when_no_threshold_is_good_enough():
    """Precision is 0.93 at every score: a lucky threshold must be found in well under 5% of runs."""
    false_passes = 0
    for seed in range(100):
        rng = random.Random(seed)
        calibrator = PrecisionCalibrator(target_precision=0.95, confidence_level=0.95, check_window=0)
        for _ in range(1000):
            calibrator.learn_one("a", rng.random(), rng.random() < 0.93)
        false_passes += calibrator.threshold("a") is not None
    assert false_passes / 100 <= 0.05


def test_threshold_is_the_lowest_proven_and_never_below_the_evidence():
    rng = random.Random(3)
    calibrator = PrecisionCalibrator(target_precision=0.9)
    for _ in range(4000):
        score = rng.uniform(0.6, 1.0)
        calibrator.learn_one("a", score, rng.random() < precision_of(score))
    threshold = calibrator.threshold("a")
    assert threshold is not None and threshold >= 0.6
    assert calibrator.precision_above("a", threshold).lower >= 0.88
    assert true_precision_above(threshold) >= 0.9  # the truth holds at the chosen threshold


def test_window_forgets_the_oldest_evidence_and_reset_forgets_all():
    calibrator = PrecisionCalibrator(window=300)
    for _ in range(300):
        calibrator.learn_one("a", 0.99, False)
    for _ in range(300):
        calibrator.learn_one("a", 0.99, True)
    assert len(calibrator) == 300 and calibrator.threshold("a") is not None
    calibrator.reset()
    assert len(calibrator) == 0 and calibrator.threshold("a") is None


def test_evidence_older_than_the_age_limit_is_forgotten():
    calibrator = PrecisionCalibrator(max_age_seconds=60)
    calibrator.learn_one("a", 0.9, True, timestamp=0.0)
    calibrator.learn_one("a", 0.9, True, timestamp=30.0)
    calibrator.learn_one("a", 0.9, True, timestamp=100.0)
    assert len(calibrator) == 1


def test_state_round_trip_gives_the_same_thresholds():
    rng = random.Random(1)
    calibrator = PrecisionCalibrator()
    for _ in range(2000):
        score = rng.random()
        calibrator.learn_one(rng.choice("ab"), score, rng.random() < precision_of(score), rng.choice([1.0, 0.1]))
    copy = PrecisionCalibrator()
    copy.load_state(calibrator.state())
    assert copy.thresholds() == calibrator.thresholds()


def test_calibration_check_reports_a_drift_and_not_a_steady_stream():
    rng = random.Random(2)
    calibrator = PrecisionCalibrator()
    steady = [calibrator.learn_one("a", 0.95, rng.random() < 0.97) for _ in range(3000)]
    assert not any(steady)
    drifted = [calibrator.learn_one("a", 0.95, rng.random() < 0.6) for _ in range(200)]
    assert any(drifted[:60])
