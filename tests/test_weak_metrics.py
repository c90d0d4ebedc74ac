"""The labeling methods' Prometheus series, read from the engine at scrape time (labelstream.weak_metrics)."""

from types import SimpleNamespace

from labelstream.core.audit import AuditEstimator
from labelstream.core.self_training import SelfTraining
from labelstream.metrics import Metrics
from labelstream.weak_metrics import register_weak_metrics


def test_the_self_training_guard_state_follows_the_audits():
    audits = AuditEstimator()
    engine = SimpleNamespace(self_training=SelfTraining(min_confidence=0.95, weight=0.3, target=0.9),
                             policy=SimpleNamespace(audits=audits))
    metrics = Metrics(service="learner")
    register_weak_metrics(metrics, engine)
    assert metrics.value("labelstream_self_training_open", **{"class": "__all__"}) == 1.0  # no audits yet: open
    for i in range(60):
        audits.learn_one("spam", correct=i % 2 == 0, inclusion_probability=1.0)  # half of spam's auto-labels wrong
    for _ in range(600):
        audits.learn_one("ham", correct=True, inclusion_probability=1.0)
    assert state(metrics) == {"__all__": 1.0, "spam": 0.0, "ham": 1.0}  # overall 630 of 660 right: not below 0.9
    for _ in range(100):
        audits.learn_one("spam", correct=False, inclusion_probability=1.0)  # overall 630 of 760: below 0.9
    assert state(metrics) == {"__all__": 0.0, "spam": 0.0, "ham": 0.0}  # the overall audits stop every class


def state(metrics: Metrics) -> dict[str, float | None]:
    return {label: metrics.value("labelstream_self_training_open", **{"class": label}) for label in ("__all__", "spam", "ham")}
