"""Policy metrics: thresholds, the audit estimate of this calibration generation, of all generations, the generation."""

from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.strategies import Split
from labelstream.metrics import Metrics
from labelstream.policy_metrics import export_policy_metrics
from labelstream.settings import load_settings


def audit(policy: ContractPolicy, right: bool) -> None:
    prediction = Prediction.from_probabilities({"spam": 0.99, "ham": 0.01})
    context = {"outcome": "review", "generation": policy.generation, "p_review": 0.1, "p_audit": 0.1, "threshold": 0.9}
    policy.learn(Evidence(prediction, "spam" if right else "ham", "audit", context=context))


def test_after_a_drift_the_estimate_is_the_new_generation_and_the_cumulative_keeps_the_past():
    policy = ContractPolicy(PrecisionCalibrator(), Split(seed=1), ReviewBudget(), seed=1)
    for i in range(40):
        audit(policy, right=i % 10 != 0)  # 90 %
    policy.on_drift("calibration_check")
    for _ in range(10):
        audit(policy, right=False)  # the new concept: all wrong
    metrics = Metrics.from_settings("learner", load_settings().metrics)
    export_policy_metrics(metrics, policy, 0.95)
    assert metrics.value("labelstream_calibration_generation") == 1
    assert metrics.value("labelstream_auto_precision_estimate", **{"class": "__all__"}) == 0.0
    assert metrics.value("labelstream_auto_precision_cumulative", stat="estimate") == 36 / 50
    low, high = (metrics.value("labelstream_auto_precision_cumulative", stat=s) for s in ("lower", "upper"))
    assert low < 36 / 50 < high
    assert metrics.value("labelstream_policy_paused") == 0.0
    policy.calibrator.paused.add("spam")  # what the pause check does while answers contradict the calibration
    export_policy_metrics(metrics, policy, 0.95)
    assert metrics.value("labelstream_policy_paused") == 1.0
