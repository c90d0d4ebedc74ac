"""The demo's run with the human half: the review service and simulated reviewers through its API (``make demo``)."""

from __future__ import annotations

import httpx
import pytest

from labelstream.simulate.datasets import export_dataset
from labelstream.simulate.via_kafka import HumanHalf, KafkaRun

pytestmark = pytest.mark.integration


def test_the_demo_run_reviews_through_the_review_service_and_a_person_can_join(kafka_up, redis_up, tmp_path):
    data = tmp_path / "sea.csv"
    n = export_dataset("sea_drift", data, size=300)
    run = KafkaRun(kafka_up, data, "label", "id", rate=60.0, reviewer_delay=0.0, log_dir=tmp_path / "logs",
                   human=HumanHalf(reviewers=2, error_rate=0.0))
    seen: dict = {}

    def person_joins(started: KafkaRun) -> None:  # what the demo prints: a page URL and a token that works there
        page = httpx.get(started.review_url + "/", timeout=10)
        me = httpx.get(started.review_url + "/api/v1/me", headers={"Authorization": f"Bearer {started.person_token}"}, timeout=10)
        seen.update(page=page.status_code, me=me.json(), labels=started.settings.labels.classes)

    result = run.run(on_started=person_joins, idle_timeout=90)
    assert seen == {"page": 200, "me": {"reviewer": "you", "role": "reviewer"}, "labels": ["False", "True"]}
    assert result["records"] == n and (result["via_kafka"]["missing"], result["via_kafka"]["duplicated"]) == (0, 0)
    answers = result["review"]["answers_by_reviewer"]
    assert set(answers) == {"sim-1", "sim-2"} and sum(answers.values()) >= result["review_share"] * n
