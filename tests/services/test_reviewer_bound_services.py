"""The reviewer-accuracy bound across processes (policy.reviewer_accuracy_from_overlap, docs/contract.md).

The learner learns the bound from consensus corrections' first two answers and ships it with each model
version; a labeler adopts it, so both route with the same, lowered agreement bar.
"""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Producer
from services_support import learner_and_labeler, metric

from labelstream.core.schemas import Correction
from labelstream.kafka.config import producer_config
from labelstream.kafka.reader import read_all
from labelstream.processes import ServiceProcess
from labelstream.produce import produce_file

pytestmark = pytest.mark.integration

RECORDS = 60


def reviewer_accuracy(proc: ServiceProcess) -> float:
    return metric(proc, "labelstream_policy_reviewer_accuracy", missing=float("nan"))


def test_the_bound_learned_from_overlap_answers_reaches_the_labelers_policy(settings_factory, tmp_path):
    settings = settings_factory(
        partitions=1, policy={"reviewer_accuracy_from_overlap": True}, learner={"publish_every_corrections": 20}
    )
    data = tmp_path / "records.csv"
    data.write_text("id,x,label\n" + "".join(f"r{i},{i % 2},{'pos' if i % 2 else 'neg'}\n" for i in range(RECORDS)))
    with learner_and_labeler(settings, tmp_path) as (learner, labeler):
        produce_file(settings, data, id_column="id", label_column="label")
        deadline = time.monotonic() + 60
        while len(reviewed := read_all(settings.kafka, settings.topics.review)) < RECORDS and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(reviewed) == RECORDS, "cold start sends every record to review"

        # Consensus corrections of overlap items: the second reviewer disagrees on every third item.
        producer = Producer(producer_config(settings.kafka))
        for n, message in enumerate(reviewed):
            request = orjson.loads(message.value())
            truth = "pos" if request["record"]["features"]["x"] == 1 else "neg"
            other = truth if n % 3 else ("neg" if truth == "pos" else "pos")
            correction = Correction(id=request["id"], label=truth, reviewer="consensus", answer_id=f"{request['id']}#3",
                                    kind="consensus", answers={"ann": truth, "bob": other}, consolidation="majority")
            producer.produce(settings.topics.corrections, key=request["id"].encode(), value=correction.model_dump_json())
        assert producer.flush(30) == 0

        deadline = time.monotonic() + 60
        while not 0 < (seen := reviewer_accuracy(labeler)) < 1 and time.monotonic() < deadline:  # 0: no version yet
            time.sleep(0.5)
        # 40 agreeing pairs in 60: one reviewer is right at most ~90 % of the time (the bound is an upper one).
        assert 0 < seen < 0.95, f"the labeler's policy still assumes reviewer accuracy {seen}"
        assert reviewer_accuracy(learner) <= seen
