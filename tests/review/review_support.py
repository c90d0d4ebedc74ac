"""Helpers of the review service tests: requests on the review topic, the service as a process, tokens, corrections."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
import orjson
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from labelstream.core.schemas import ReviewRequest
from labelstream.kafka.config import producer_config
from labelstream.kafka.reader import read_all
from labelstream.processes import ServiceProcess, service
from labelstream.review.auth import TokenStore
from labelstream.review.items import QueueItem
from labelstream.review.service import ReviewService
from labelstream.settings import Settings
from labelstream.store.connection import connect

LABELS = ["cat", "dog", "bird"]

GOLD = [
    {
        "id": "g1",
        "record": {"features": {"x": 1.5, "colour": "red"}},
        "label": "cat",
        "proposed_label": "dog",
        "probabilities": {"cat": 0.4, "dog": 0.6},
        "reason": "uncertain",
    },
    {"id": "g2", "record": {"features": {"x": -0.5, "colour": "blue"}, "text": "a bird"}, "label": "bird"},
    {"id": "g3", "record": {"features": {"x": 0.0}}, "label": "dog", "proposed_label": "dog"},
]


GOLD_AT_ANY_COUNT = {"queue_counter_exact_below": 0, "queue_counter_step": 1_000_000}
"""A reviewers' counter that always reads "0+": a gold item may replace a claim whatever the count (under a million),
as the gold tests' few records need. Their own test, test_review_gold_counter.py, uses the defaults."""


def review_sections(**review: object) -> dict:
    """Settings sections for a review test: a label set, and the review overrides given. With gold items served
    (``gold_share``) and no counter given, :data:`GOLD_AT_ANY_COUNT`."""
    if review.get("gold_share") and not {"queue_counter_exact_below", "queue_counter_step"} & review.keys():
        review = {**GOLD_AT_ANY_COUNT, **review}
    return {"labels": {"classes": LABELS}, "review": {"lease_seconds": 30.0, **review}}


def request(
    record_id: str,
    priority: float = 0.5,
    timestamp: float | None = None,
    text: str | None = None,
    reason: str = "uncertain",
    seed: int = 0,
) -> ReviewRequest:
    rng = random.Random(f"{record_id}-{seed}")
    features = {
        "x": round(rng.uniform(-2, 2), 4),
        "y": round(rng.uniform(-2, 2), 4),
        "colour": rng.choice(["red", "blue"]),
    }
    p = round(rng.uniform(0.34, 0.7), 3)
    record = {"id": record_id, "features": features} | ({"text": text} if text else {})
    return ReviewRequest.model_validate(
        {
            "id": record_id,
            "record": record,
            "proposed_label": "cat",
            "probabilities": {"cat": p, "dog": round((1 - p) * 0.7, 3), "bird": round((1 - p) * 0.3, 3)},
            "reason": reason,
            "priority": priority,
            "timestamp": time.time() if timestamp is None else timestamp,
        }
    )


def publish_requests(settings: Settings, requests: Iterable[ReviewRequest]) -> int:
    producer = Producer(producer_config(settings.kafka))
    n = 0
    for req in requests:
        producer.produce(settings.topics.review, key=req.id.encode(), value=req.model_dump_json().encode())
        n += 1
    assert producer.flush(30) == 0
    return n


def new_token(settings: Settings, name: str, role: str = "reviewer") -> str:
    return TokenStore(connect(settings.redis), settings.redis.key_prefix).add(name, role)  # type: ignore[arg-type]


def corrections(settings: Settings) -> list[dict]:
    """Every correction on the topic, in partition order."""
    return [orjson.loads(m.value()) for m in read_all(settings.kafka, settings.topics.corrections)]


def start_review(settings: Settings, log_dir: Path) -> ServiceProcess:
    proc = service(settings, "review", log_dir).start()
    proc.wait_until_serving(90)
    return proc


def url(proc: ServiceProcess) -> str:
    return f"http://127.0.0.1:{proc.metrics_port}"


def client(proc: ServiceProcess, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url(proc), headers=headers, timeout=30)


def wait_for(condition, timeout: float, what: str, interval: float = 0.25):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_enqueued(proc_client: httpx.Client, n: int, timeout: float = 60) -> None:
    """Until the service holds ``n`` items (waiting + leased + answered): the lead's exact figures with an admin
    token, else the reviewer's (``waiting`` rounded down from review.queue_counter_exact_below on)."""

    def holds() -> bool:
        overview = proc_client.get("/api/v1/admin/overview")
        queue = (overview if overview.status_code == 200 else proc_client.get("/api/v1/stats")).json()["queue"]
        return queue["waiting"] + queue["leased"] + queue["consolidating"] + queue["answered"] >= n

    wait_for(holds, timeout, f"{n} review requests in the queue")


def steps_until(ingest, stop, done, what: str, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Run a ReviewIngest's steps in this thread until ``done()``; fails after ``timeout`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, (
            f"timed out after {timeout:.0f} s waiting for {what} ({ingest.enqueued} enqueued)"
        )
        ingest.step(stop)


def key_of(client, prefix: str, item: dict) -> str:  # noqa: ANN001
    """The queue key of a claimed item: its id, or a gold instance's random key (never shown), found by its lease."""
    key = client.get(f"{prefix}:review:gold:lease:{item['lease']}")
    return item["id"] if key is None else key.decode()


class GoldService:
    """The review service in this process (its app under TestClient; its loops only where a test starts them)."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        self.settings = settings
        self.service = ReviewService(settings)
        self.http = TestClient(self.service.app)
        self.tokens = {
            name: new_token(settings, name, role)
            for name, role in (("boss", "admin"), ("ana", "reviewer"), ("bob", "reviewer"))
        }

    def call(self, who: str, method: str, path: str, json: object = None):  # noqa: ANN201
        return self.http.request(
            method, f"/api/v1/{path}", json=json, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )

    def enqueue(self, *ids: str) -> None:
        self.service.queue.enqueue([QueueItem.from_request(request(i).model_dump_json().encode()) for i in ids])

    def claim(self, who: str) -> dict | None:
        response = self.call(who, "POST", "claim")
        assert response.status_code in (200, 204), response.text
        return response.json()["item"] if response.status_code == 200 else None

    def answer(self, who: str, item: dict, label: str) -> dict:
        response = self.call(who, "POST", "answer", {"id": item["id"], "lease": item["lease"], "label": label})
        assert response.status_code == 200, response.text
        return response.json()

    def key_of(self, item: dict) -> str:
        return key_of(self.service.redis, self.settings.redis.key_prefix, item)

    def gold_of(self, item: dict) -> str | None:
        return self.service.queue.item_field(self.key_of(item), "gold")

    def outbox(self) -> list[bytes]:
        return self.service.redis.lrange(self.service.queue.outbox_key, 0, -1)
