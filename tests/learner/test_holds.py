"""A reviewer hold reaches the learner (review.gold_hold_below with policy.reviewer_accuracy_from_gold): the real
learner reads the review service's ``hold`` corrections beside the gold answers on ``corrections`` and its gold
bound drops the held reviewer's answers, so the accuracy in force rises (docs/contract.md, section 5, Holds)."""

from __future__ import annotations

import math
import random
import time

import pytest
from confluent_kafka import Producer

from labelstream.core.schemas import Correction
from labelstream.kafka.config import producer_config
from labelstream.processes import ServiceProcess, service, stop_all

pytestmark = pytest.mark.integration


def accuracy_in_force(proc: ServiceProcess) -> float:
    for line in proc.metrics_text().splitlines():
        if line.startswith("labelstream_policy_reviewer_accuracy "):
            return float(line.split()[1])
    return float("nan")


def test_a_hold_reaches_the_learner_and_its_gold_bound_drops_the_held_reviewers_answers(settings_factory, tmp_path):
    settings = settings_factory(partitions=1, policy={"reviewer_accuracy_from_gold": True, "gold_bound": "accuracy"},
                                review={"gold_hold_below": 0.8})
    learner = service(settings, "learner", tmp_path)
    producer = Producer(producer_config(settings.kafka))

    def send(correction: Correction) -> None:
        producer.produce(settings.topics.corrections, key=correction.id.encode(), value=correction.wire_json())

    def tell(reviewer: str) -> None:  # as the review service does on the first claim a hold refuses
        send(Correction(id=f"hold:{reviewer}", label="held", reviewer=reviewer, kind="hold", held=True,
                        answer_id=f"hold:{reviewer}#1"))
        assert producer.flush(30) == 0

    def settled(previous: float) -> float:
        deadline = time.monotonic() + 60
        while ((seen := accuracy_in_force(learner)) in (previous, 0.0) or math.isnan(seen)) and time.monotonic() < deadline:
            # 0 or missing: no version yet
            time.sleep(0.5)
        return seen

    try:
        learner.start()
        learner.wait_until_serving()
        rng = random.Random(1)
        for i in range(200):  # ann right 99 % of the time, bo 60 %: 100 gold answers each, in turn
            name = ("ann", "bo")[i % 2]
            send(Correction(id=f"g{i % 12}", label="x", reviewer=name, kind="gold", answer_id=f"g{i % 12}#{i}",
                            correct=rng.random() < (0.99 if name == "ann" else 0.6)))
        tell("cy")  # a hold of a reviewer with no gold answer counted: nothing leaves; a version shows the bound
        pooled = settled(1.0)
        assert 0.5 < pooled < 0.9, f"pooled over ann and bo (about 0.8 right), the bound in force is {pooled}"
        tell("bo")  # bo held: his answers leave the bound, an epoch opens on ann's 100 answers
        alone = settled(pooled)
        assert alone > 0.95, f"with bo held the learner's bound is still {alone} (it was {pooled})"
        print(f"accuracy in force: {pooled:.4f} pooled, {alone:.4f} with bo held")
    finally:
        stop_all((learner,))
