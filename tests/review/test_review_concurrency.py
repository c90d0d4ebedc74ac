"""Four reviewers over 500 items, the service killed with -9 mid-run and restarted: measured on ``corrections``.

Guarantees checked: no item held by two reviewers at once (client-side holding
intervals, bounded by the lease), none lost (every item answered, every 200
answer on the topic), none answered twice (one ``answer`` per plain item, no
answer id published twice), overlap items answered by exactly ``overlap_k``
different reviewers and consolidated once, and an abandoned lease returning
its item to the others.
"""

from __future__ import annotations

import hashlib
import statistics
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
from review_support import (
    LABELS,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_sections,
    start_review,
    wait_for,
)

from labelstream.review.items import in_overlap

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ITEMS = 500
REVIEWERS = 4
OVERLAP_SHARE = 0.2
K = 2
LEASE_SECONDS = 6.0


def truth(record_id: str) -> str:
    """Every reviewer gives the same answer (so overlap items need no adjudication: exactly K answers)."""
    return LABELS[hashlib.sha256(record_id.encode()).digest()[0] % len(LABELS)]


@dataclass
class Log:
    holds: list[tuple[str, str, float, float]] = field(default_factory=list)  # id, reviewer, from, to
    answered: list[tuple[str, str, str]] = field(default_factory=list)  # id, reviewer, answer id
    claim_seconds: list[float] = field(default_factory=list)
    answer_seconds: list[float] = field(default_factory=list)
    item_seconds: list[float] = field(default_factory=list)  # claim sent -> answer accepted, one item
    conflicts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def call(http: httpx.Client, stop: threading.Event, path: str, body: dict | None = None) -> tuple[httpx.Response | None, bool]:
    """POST, retrying while the service is down (killed, restarting); the response and whether it took no retry."""
    clean = True
    while not stop.is_set():
        try:
            return http.post(path, json=body), clean
        except httpx.TransportError:
            clean = False
            time.sleep(0.2)
    return None, False


def reviewer(http: httpx.Client, name: str, log: Log, stop: threading.Event, done: threading.Event) -> None:
    while not done.is_set() and not stop.is_set():
        started = time.monotonic()
        response, clean_claim = call(http, stop, "/api/v1/claim")
        if response is None:
            return
        if response.status_code == 204:
            time.sleep(0.3)
            continue
        assert response.status_code == 200, response.text
        claimed, item = time.time(), response.json()["item"]
        claim_seconds = time.monotonic() - started
        before_answer = time.time()
        started = time.monotonic()
        body = {"id": item["id"], "lease": item["lease"], "label": truth(item["id"])}
        response, clean_answer = call(http, stop, "/api/v1/answer", body)  # a lost response is retried: same answer
        if response is None:
            return
        with log.lock:  # latencies of calls that met no restart
            if clean_claim:
                log.claim_seconds.append(claim_seconds)
            if response.status_code == 200:
                if clean_answer:
                    log.answer_seconds.append(time.monotonic() - started)
                    if clean_claim:
                        log.item_seconds.append(claim_seconds + time.monotonic() - started)
                log.answered.append((item["id"], name, response.json()["answer_id"]))
                log.holds.append((item["id"], name, claimed, before_answer))
            else:
                assert response.status_code == 409, response.text  # the lease ran out while the service restarted
                log.conflicts += 1
                log.holds.append((item["id"], name, claimed, min(before_answer, item["lease_expires_at"])))


def distinct(log: Log) -> int:
    with log.lock:
        return len({answer_id for _i, _n, answer_id in log.answered})


def overlapping_holds(holds: list[tuple[str, str, float, float]]) -> list[tuple]:
    by_item = defaultdict(list)
    for record_id, name, start, end in holds:
        by_item[record_id].append((start, end, name))
    clashes = []
    for record_id, spans in by_item.items():
        for i, (s1, e1, n1) in enumerate(spans):
            for s2, e2, n2 in spans[i + 1:]:
                if n1 != n2 and s1 < e2 and s2 < e1:
                    clashes.append((record_id, n1, n2, min(e1, e2) - max(s1, s2)))
    return clashes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def check_corrections(settings, ids: list[str], log: Log) -> dict[str, list[dict]]:
    """No answer published twice, none lost, each plain item answered once, each overlap item K times then one
    consensus, no item held by two reviewers at once; the corrections by item."""
    published = corrections(settings)
    answer_ids = Counter(c["answer_id"] for c in published)
    assert [a for a, n in answer_ids.items() if n > 1] == [], "an answer was published twice"
    by_item: dict[str, list[dict]] = defaultdict(list)
    for c in published:
        by_item[c["id"]].append(c)
    assert set(by_item) == set(ids), f"lost: {sorted(set(ids) - set(by_item))[:10]}"
    for record_id in ids:
        kinds = Counter(c["kind"] for c in by_item[record_id])
        if in_overlap(record_id, OVERLAP_SHARE):
            reviewers = [c["reviewer"] for c in by_item[record_id] if c["kind"] == "overlap"]
            assert kinds == {"overlap": K, "consensus": 1}, (record_id, by_item[record_id])
            assert len(set(reviewers)) == K, (record_id, reviewers)
        else:
            assert kinds == {"answer": 1}, (record_id, by_item[record_id])
        assert all(c["label"] == truth(record_id) for c in by_item[record_id])
    assert {a for _i, _n, a in log.answered} <= set(answer_ids), "an accepted answer is missing from corrections"
    assert overlapping_holds(log.holds) == []
    return by_item


def test_four_reviewers_a_kill_9_and_a_restart_lose_nothing_and_duplicate_nothing(settings_factory, tmp_path):
    settings = settings_factory(**review_sections(
        lease_seconds=LEASE_SECONDS, undo_seconds=1.0, overlap_share=OVERLAP_SHARE, overlap_k=K,
    ))
    ids = [f"c{i:03d}" for i in range(ITEMS)]
    publish_requests(settings, [request(i, priority=(n % 7) / 7) for n, i in enumerate(ids[: ITEMS // 2])])
    review = start_review(settings, tmp_path / "logs")
    tokens = {f"r{n}": new_token(settings, f"r{n}") for n in range(REVIEWERS)}
    log, stop, done = Log(), threading.Event(), threading.Event()
    clients = {name: client(review, token) for name, token in tokens.items()}
    threads = [threading.Thread(target=reviewer, args=(clients[n], n, log, stop, done)) for n in tokens]
    try:
        for thread in threads:
            thread.start()
        publish_requests(settings, [request(i, priority=(n % 7) / 7) for n, i in enumerate(ids[ITEMS // 2:])])
        wait_for(lambda: distinct(log) >= 200, 120, "200 answers")
        review.kill()  # kill -9: no chance to finish a request, publish or commit
        review.start()
        review.wait_until_serving(90)
        # a reviewer who claims an item and leaves (closed browser): the lease runs out, the item returns
        with client(review, new_token(settings, "leaver")) as leaver:
            abandoned = wait_for(lambda: (r := leaver.post("/api/v1/claim")).status_code == 200 and r.json()["item"], 30, "a claim")
        expected_answers = ITEMS + sum(in_overlap(i, OVERLAP_SHARE) for i in ids) * (K - 1)
        wait_for(lambda: distinct(log) >= expected_answers, 240, f"{expected_answers} answers")
        done.set()
        for thread in threads:
            thread.join(30)
        with client(review, new_token(settings, "lead", "admin")) as r0:  # the outbox: the lead's overview only
            wait_for(lambda: r0.get("/api/v1/admin/overview").json()["queue"]["unpublished"] == 0 and
                     r0.get("/api/v1/admin/overview").json()["queue"]["consolidating"] == 0, 60, "the outbox published")
            metrics = r0.get("/metrics").text
    finally:
        stop.set()
        for http in clients.values():
            http.close()
        review.stop(20)

    by_item = check_corrections(settings, ids, log)
    assert 50 <= sum(in_overlap(i, OVERLAP_SHARE) for i in ids) <= 150
    answered_abandoned = [c for c in by_item[abandoned["id"]] if c["kind"] in ("answer", "overlap")]
    assert answered_abandoned and all(c["reviewer"] != "leaver" for c in answered_abandoned)
    expired = [line for line in metrics.splitlines() if line.startswith("labelstream_review_leases_expired_total ")]
    assert expired and float(expired[0].split()[1]) >= 1
    figures = {
        "answers": distinct(log), "conflicts_after_kill": log.conflicts,
        "claim_p50_ms": round(1000 * statistics.median(log.claim_seconds), 1),
        "claim_p99_ms": round(1000 * percentile(log.claim_seconds, 0.99), 1),
        "answer_p50_ms": round(1000 * statistics.median(log.answer_seconds), 1),
        "answer_p99_ms": round(1000 * percentile(log.answer_seconds, 0.99), 1),
        "claim_to_answer_p50_ms": round(1000 * statistics.median(log.item_seconds), 1),
        "claim_to_answer_p99_ms": round(1000 * percentile(log.item_seconds, 0.99), 1),
    }
    print("review concurrency:", figures)


class TwoInstances:
    """An httpx-like client that sends each call to the next of two review service instances (the other one if
    that one does not answer): a claim on one, its answer on the other, as behind a load balancer."""

    def __init__(self, clients: list[httpx.Client]) -> None:
        self.clients = clients
        self.calls = [0, 0]
        self.turn = 0

    def post(self, path: str, json: dict | None = None) -> httpx.Response:
        self.turn += 1
        for index in (self.turn % 2, (self.turn + 1) % 2):
            try:
                response = self.clients[index].post(path, json=json)
            except httpx.TransportError:
                continue
            self.calls[index] += 1
            return response
        raise httpx.ConnectError("neither instance answers")

    def close(self) -> None:
        for http in self.clients:
            http.close()


def published_by(metrics_text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics_text.splitlines()
               if line.startswith("labelstream_review_corrections_published_total{"))


def test_two_instances_share_the_queue_and_a_killed_leader_is_replaced(settings_factory, tmp_path):
    """Two review services on the same Redis and topics, every reviewer's calls alternating between them; the
    leader (the one publishing) is killed with -9 midway: still no item held by two, none lost, none answered
    or published twice, overlap items exactly K times, and the other instance takes over publishing."""
    settings = settings_factory(**review_sections(
        lease_seconds=LEASE_SECONDS, undo_seconds=1.0, overlap_share=OVERLAP_SHARE, overlap_k=K,
    ))
    ids = [f"t{i:03d}" for i in range(200)]
    publish_requests(settings, [request(i, priority=(n % 5) / 5) for n, i in enumerate(ids[:100])])
    instances = [start_review(settings, tmp_path / "logs-a"), start_review(settings, tmp_path / "logs-b")]
    tokens = {f"r{n}": new_token(settings, f"r{n}") for n in range(REVIEWERS)}
    log, stop, done = Log(), threading.Event(), threading.Event()
    pairs = {name: TwoInstances([client(proc, token) for proc in instances]) for name, token in tokens.items()}
    threads = [threading.Thread(target=reviewer, args=(pairs[n], n, log, stop, done)) for n in tokens]
    try:
        for thread in threads:
            thread.start()
        publish_requests(settings, [request(i, priority=(n % 5) / 5) for n, i in enumerate(ids[100:])])
        wait_for(lambda: distinct(log) >= 80, 120, "80 answers")
        publishing = [published_by(proc.metrics_text()) for proc in instances]
        assert sorted(publishing)[0] == 0 < publishing[0] + publishing[1], publishing  # one leader publishes
        leader, survivor = (instances[0], instances[1]) if publishing[0] else (instances[1], instances[0])
        leader.kill()
        expected_answers = len(ids) + sum(in_overlap(i, OVERLAP_SHARE) for i in ids) * (K - 1)
        wait_for(lambda: distinct(log) >= expected_answers, 240, f"{expected_answers} answers")
        done.set()
        for thread in threads:
            thread.join(30)
        with client(survivor, new_token(settings, "lead", "admin")) as r0:  # the outbox: the lead's overview only
            wait_for(lambda: (q := r0.get("/api/v1/admin/overview").json()["queue"])["unpublished"] == 0
                     and q["consolidating"] == 0, 60, "the outbox published by the new leader")
            survivor_published = published_by(r0.get("/metrics").text)
    finally:
        stop.set()
        for pair in pairs.values():
            pair.close()
        for proc in instances:
            proc.stop(20)
    check_corrections(settings, ids, log)
    assert survivor_published > 0  # the survivor took the leader lock over and published
    calls = [sum(pair.calls[i] for pair in pairs.values()) for i in range(2)]
    assert min(calls) > 40, calls  # both instances served reviewers (the killed one until its end)
    print("two instances:", {"answers": distinct(log), "calls per instance": calls, "conflicts": log.conflicts,
                             "published by the survivor": survivor_published})
