"""The learner's version check at publish time (policy.version_change_reset, docs/contract.md).

A real learner object on the test's Redis and Kafka (its faust app is built, not run): the check it runs
before taking a version's state opens a calibration generation and says so on the events topic.
"""

from __future__ import annotations

import orjson
import pytest

from labelstream.kafka.reader import read_all
from labelstream.learner import Learner
from model_support import FixedModel

pytestmark = pytest.mark.integration




def test_a_version_that_relabels_the_auto_region_opens_a_generation_before_it_is_published(settings_factory):
    off = Learner(settings_factory())
    assert off.version_check is None  # off by default (its coverage cost: docs/contract.md, session 8)

    settings = settings_factory(policy={"version_change_reset": 0.05})
    learner = Learner(settings)
    policy = learner.engine.policy
    for _ in range(300):  # class "a" proven above 0.99
        policy.calibrator.learn_one("a", 0.99, True)
    for _ in range(20):
        learner.version_check.observe({"x": 1.0})
    learner.engine.model = FixedModel("a")
    learner.versions.check_version_change()  # the first version: the one the next is compared with
    assert policy.generation == 0
    learner.versions.check_version_change()  # the same labels: no reset
    assert policy.generation == 0 and policy.calibrator.threshold("a") is not None

    learner.engine.model = FixedModel("b")  # relabels every would-be auto-label
    learner.versions.check_version_change()
    assert policy.generation == 1 and policy.calibrator.threshold("a") is None
    assert learner.engine.learned_state()["calibration"]["generation"] == 1  # ships with the version
    learner.events._producer.flush(10)
    events = [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.events)]
    drifts = [e for e in events if e["kind"] == "drift"]
    assert [(e["detail"]["detector"], e["detail"]["region"], e["detail"]["share"]) for e in drifts] == [("version_change", 20, 1.0)]
