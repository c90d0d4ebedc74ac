"""The work queue's rules on the real Redis: order, leases, never the same item twice, undo, overlap, late answers."""

from __future__ import annotations

import threading
import uuid

import orjson
import pytest
import redis
from review_support import request

from labelstream.core.schemas import Correction
from labelstream.review.consolidation import Consolidator
from labelstream.review.items import QueueItem
from labelstream.review.metrics import ReviewMetrics
from labelstream.review.queue import LeaseConflict, ReviewQueue
from labelstream.store.records import RecordStore

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_up) -> redis.Redis:
    return redis.Redis.from_url(redis_up.redis.url)


def make_queue(client: redis.Redis, **kwargs) -> ReviewQueue:
    prefix = f"q{uuid.uuid4().hex[:8]}"
    options = {"lease_seconds": 60.0, "undo_seconds": 10.0} | kwargs
    return ReviewQueue(client, prefix, RecordStore(client, prefix, 3600), **options)


def items(*specs: tuple[str, float, float], overlap: float = 0.0, k: int = 2) -> list[QueueItem]:
    """QueueItems from (id, priority, timestamp)."""
    return [
        QueueItem.from_request(request(i, p, t).model_dump_json().encode(), overlap_share=overlap, overlap_k=k)
        for i, p, t in specs
    ]


def outbox(queue: ReviewQueue) -> list[dict]:
    return [orjson.loads(raw) for raw in queue.client.lrange(queue.outbox_key, 0, -1)]


def test_order_is_priority_then_age_and_a_replayed_request_is_ignored(client):
    queue = make_queue(client)
    batch = items(("low", 0.1, 100.0), ("high-new", 0.9, 300.0), ("high-old", 0.9, 200.0), ("mid", 0.5, 50.0))
    assert queue.enqueue(batch) == 4
    assert queue.enqueue(batch) == 0  # a replay after a crash: nothing new
    served = [queue.claim(f"r{i}").item.id for i in range(4)]
    assert served == ["high-old", "high-new", "mid", "low"]
    assert queue.claim("r9").item is None


def test_a_lease_is_exclusive_and_an_answered_item_is_never_served_again(client):
    queue = make_queue(client)
    queue.enqueue(items(("a", 0.5, 1.0), ("b", 0.4, 1.0)))
    first = queue.claim("ana").item
    again = queue.claim("ana")
    assert again.renewed and again.item.id == first.id and again.item.lease == first.lease  # a page reload
    other = queue.claim("bob").item
    assert other.id != first.id
    with pytest.raises(LeaseConflict):
        queue.answer(first.id, "bob", first.lease, "cat")  # not bob's lease
    with pytest.raises(LeaseConflict):
        queue.answer(first.id, "ana", "not-the-lease", "cat")
    answered = queue.answer(first.id, "ana", first.lease, "dog", note="looks like a dog")
    assert answered.state == "done" and answered.answer_id == f"{first.id}#1"
    assert queue.answer(first.id, "ana", first.lease, "dog").repeated  # a retry after a lost response
    with pytest.raises(LeaseConflict):
        queue.answer(first.id, "ana", first.lease, "cat")  # ... but not a different answer
    assert queue.claim("ana").item is None  # b is bob's, a is done
    assert [(e["kind"], e["id"], e["label"], e["reviewer"], e.get("note")) for e in outbox(queue)] == [
        ("answer", first.id, "dog", "ana", "looks like a dog")
    ]


def test_concurrent_claims_never_share_an_item(client):
    queue = make_queue(client)
    queue.enqueue(items(*[(f"i{n}", 0.5, float(n)) for n in range(200)]))
    taken: dict[str, list[str]] = {}

    def work(reviewer: str) -> None:
        mine = taken.setdefault(reviewer, [])
        while (claim := queue.claim(reviewer)).item is not None:
            mine.append(claim.item.id)
            queue.answer(claim.item.id, reviewer, claim.item.lease, "cat")

    threads = [threading.Thread(target=work, args=(f"r{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for ids in taken.values() for i in ids]
    assert sorted(everything) == sorted(f"i{n}" for n in range(200))  # each once, none lost
    assert sum(1 for ids in taken.values() if ids) >= 2


def test_an_expired_lease_returns_the_item_and_a_heartbeat_keeps_it(client):
    queue = make_queue(client, lease_seconds=10.0)
    queue.enqueue(items(("a", 0.5, 1.0), ("b", 0.5, 2.0)))
    held = queue.claim("ana", now=1000.0).item
    kept = queue.claim("bob", now=1000.0).item
    assert queue.heartbeat(kept.id, "bob", kept.lease, now=1008.0) == 1018.0
    claim = queue.claim("cyd", now=1011.0)  # ana's lease ran out at 1010, bob's runs to 1018
    assert claim.reaped == 1 and claim.item.id == held.id
    with pytest.raises(LeaseConflict, match="not yours or has ended"):
        queue.answer(held.id, "ana", held.lease, "cat", now=1011.0)
    with pytest.raises(LeaseConflict, match="expired"):
        queue.heartbeat(kept.id, "bob", kept.lease, now=1019.0)
    assert queue.state(kept.id) == "waiting"


def test_a_skipped_item_goes_to_others_only(client):
    queue = make_queue(client)
    queue.enqueue(items(("a", 0.9, 1.0), ("b", 0.1, 1.0)))
    first = queue.claim("ana").item
    queue.skip(first.id, "ana", first.lease, note="not sure: a fox?", now=5.0)
    assert queue.claim("ana").item.id == "b"
    taken = queue.claim("bob").item
    assert taken.id == "a"  # ahead of anything fresh of lower priority
    assert queue.skip_notes("a") == [{"reviewer": "ana", "note": "not sure: a fox?", "at": 5.0}]  # bob sees why
    queue.skip(taken.id, "bob", taken.lease)  # a skip without a note adds none
    assert [n["reviewer"] for n in queue.skip_notes("a")] == ["ana"] and queue.skip_notes("b") == []


def test_undo_publishes_a_retraction_and_gives_the_item_back(client):
    queue = make_queue(client)
    queue.enqueue(items(("a", 0.9, 1.0), ("b", 0.5, 1.0)))
    first = queue.claim("ana").item
    answer = queue.answer(first.id, "ana", first.lease, "dog")
    following = queue.claim("ana").item  # ana moved on to b ...
    undone = queue.undo("ana")  # ... and takes back her answer to a
    assert undone.item.id == "a" and undone.item.lease != first.lease
    assert queue.state("b") == "waiting" and queue.claim("bob").item.id == following.id
    again = queue.answer("a", "ana", undone.item.lease, "cat")
    assert again.answer_id == "a#3"
    assert [(e["kind"], e["label"], e["answer_id"], e.get("supersedes")) for e in outbox(queue)] == [
        ("answer", "dog", answer.answer_id, None),
        ("retraction", "dog", "a#2", answer.answer_id),
        ("answer", "cat", "a#3", answer.answer_id),
    ]
    # The new answer supersedes the undone one: the learner learns it but the record's evidence, counted with the
    # first answer (a bet placed cannot be taken back), is not counted again.
    assert [Correction.model_validate(e).counted_before for e in outbox(queue)] == [False, False, True]
    queue.undo("ana")
    with pytest.raises(LeaseConflict, match="nothing to undo"):
        queue.undo("ana")  # only the last answer


def test_undo_is_refused_once_its_time_has_passed(client):
    queue = make_queue(client, undo_seconds=1.0)
    queue.enqueue(items(("a", 0.9, 1.0)))
    item = queue.claim("ana").item
    queue.answer(item.id, "ana", item.lease, "dog")
    client.delete(f"{queue.prefix}:review:last:ana")  # what Redis does when the undo window (the key's TTL) ends
    with pytest.raises(LeaseConflict, match="nothing to undo"):
        queue.undo("ana")


def test_overlap_items_go_to_k_different_reviewers_then_to_an_adjudicator_on_disagreement(client):
    queue = make_queue(client, undo_seconds=0.0)
    consolidator = Consolidator(queue, ReviewMetrics(), "majority", adjudication=True)
    queue.enqueue(items(("agree", 0.9, 1.0), ("split", 0.8, 1.0), overlap=1.0, k=2))
    answers = {"agree": {"ana": "cat", "bob": "cat"}, "split": {"ana": "cat", "bob": "dog", "cyd": "dog"}}
    for reviewer in ("ana", "bob"):
        for _ in range(2):
            item = queue.claim(reviewer).item
            assert item.overlap
            queue.answer(item.id, reviewer, item.lease, answers[item.id][reviewer])
        assert queue.claim(reviewer).item is None  # never the same item twice
    assert consolidator.run_once() == 1  # "agree" is consolidated, "split" goes to a third reviewer
    assert queue.state("agree") == "done" and queue.state("split") == "waiting"
    assert queue.claim("ana").item is None and queue.claim("bob").item is None
    item = queue.claim("cyd").item
    assert item.id == "split"
    queue.answer(item.id, "cyd", item.lease, "dog")
    assert consolidator.run_once() == 1
    entries = outbox(queue)
    assert [e["kind"] for e in entries].count("overlap") == 5
    consensus = {e["id"]: e for e in entries if e["kind"] == "consensus"}
    assert consensus["agree"]["label"] == "cat" and consensus["agree"]["adjudicated"] is False
    assert consensus["split"]["label"] == "dog" and consensus["split"]["adjudicated"] is True
    assert consensus["split"]["answers"] == {"ana": "cat", "bob": "dog", "cyd": "dog"}
    assert consensus["split"]["confidence"] == pytest.approx(2 / 3)
    assert consolidator.metrics.value("labelstream_review_consolidated_total", result="agreed") == 1
    assert consolidator.metrics.value("labelstream_review_consolidated_total", result="adjudicated") == 1
    # the agreement state survives a restart (it is stored with each consensus)
    assert Consolidator(queue, ReviewMetrics(), "majority").summary() == consolidator.summary()


def test_an_overlap_item_waits_for_the_undo_window_of_its_last_answer(client):
    queue = make_queue(client, undo_seconds=30.0)
    consolidator = Consolidator(queue, ReviewMetrics(), "majority")
    queue.enqueue(items(("a", 0.9, 1.0), overlap=1.0, k=2))
    for reviewer in ("ana", "bob"):
        item = queue.claim(reviewer, now=1000.0).item
        queue.answer(item.id, reviewer, item.lease, "cat", now=1000.0)
    assert consolidator.run_once(now=1010.0) == 0 and queue.state("a") == "consolidating"
    undone = queue.undo("bob")  # bob may still take it back
    assert undone.item.id == "a" and queue.state("a") == "leased"
    queue.answer("a", "bob", undone.item.lease, "dog", now=1020.0)
    assert consolidator.run_once(now=1049.0) == 0
    assert consolidator.run_once(now=1051.0) == 0 and queue.state("a") == "waiting"  # disagreement: adjudication


def test_a_late_answer_stays_learnable_after_the_record_ttl(client):
    """The item keeps the routing context; answering puts it back where the learner joins it."""
    queue = make_queue(client)
    store = queue.records
    late = request("late", 0.5, 1.0).model_copy(update={"context": {"threshold": 0.9, "generation": 2}})
    queue.enqueue([QueueItem.from_request(late.model_dump_json().encode())])
    assert store.get("late") is None  # the labeler's copy expired long ago (7-day TTL)
    item = queue.claim("ana").item
    queue.answer(item.id, "ana", item.lease, "dog")
    stored = store.get("late")
    assert stored is not None and stored.outcome == "review" and stored.reason == "uncertain"
    assert stored.features == item.request["record"]["features"]
    assert stored.probabilities == item.request["probabilities"]
    assert stored.context == {"threshold": 0.9, "generation": 2}  # the policy's context, handed back with the answer
    assert client.ttl(store.key("late")) > 6 * 24 * 3600


def test_admin_expiry_takes_waiting_items_out(client):
    queue = make_queue(client)
    queue.enqueue(items(("old", 0.5, 100.0), ("new", 0.5, 5000.0)))
    assert queue.waiting_ids(older_than=1000.0) == ["old"]
    assert queue.expire(["old", "unknown"]) == 1
    assert queue.state("old") == "expired"
    assert queue.claim("ana").item.id == "new"
    assert queue.claim("bob").item is None


def test_dawid_skene_consolidation_through_the_queue_weighs_reviewers_by_their_accuracy(client):
    """Three reviewers with error rates 0.05, 0.2 and 0.35 answer 400 overlap items (k=3, no adjudication)."""
    import random

    from labelstream.core.consensus import MajorityConsensus

    rng = random.Random(3)
    labels = ["cat", "dog", "bird"]
    error_rates = {"ana": 0.05, "ben": 0.2, "cem": 0.35}
    queue = make_queue(client, undo_seconds=0.0)
    metrics = ReviewMetrics()
    consolidator = Consolidator(queue, metrics, "dawid_skene", adjudication=False, classes=labels)
    n = 400
    truth = {f"d{i}": rng.choice(labels) for i in range(n)}
    queue.enqueue(items(*[(record_id, 0.5, float(i)) for i, record_id in enumerate(truth)], overlap=1.0, k=3))
    given: dict[str, dict[str, str]] = {}
    for _ in range(n):
        for reviewer in rng.sample(sorted(error_rates), 3):
            item = queue.claim(reviewer).item
            right = truth[item.id]
            wrong = rng.choice([label for label in labels if label != right])
            label = wrong if rng.random() < error_rates[reviewer] else right
            given.setdefault(item.id, {})[reviewer] = label
            queue.answer(item.id, reviewer, item.lease, label)
        assert consolidator.run_once() >= 0
    while consolidator.run_once():
        pass
    consensus = {e["id"]: e for e in outbox(queue) if e["kind"] == "consensus"}
    assert len(consensus) == n and all(e["consolidation"] == "dawid_skene" for e in consensus.values())
    dawid_skene_right = sum(consensus[i]["label"] == truth[i] for i in truth)
    majority_right = sum(MajorityConsensus().predict_one(dict(queue.answers(i))) == truth[i] for i in truth)
    print(f"consensus right of {n}: dawid-skene {dawid_skene_right}, majority {majority_right}; kappa "
          f"{consolidator.tracker.kappa():.3f}, alpha {consolidator.tracker.alpha():.3f}")
    assert dawid_skene_right > majority_right, (dawid_skene_right, majority_right)
    # expected mean kappa over the three pairs: P(agree) = (1-e1)(1-e2) + e1 e2 / 2, chance 1/3 -> 0.473
    assert abs(consolidator.tracker.kappa() - 0.473) < 0.08
    accuracy = {r: metrics.value("labelstream_reviewer_accuracy_estimate", reviewer=r) for r in error_rates}
    assert accuracy["ana"] > accuracy["ben"] > accuracy["cem"]
    assert abs(accuracy["ana"] - 0.95) < 0.06 and abs(accuracy["cem"] - 0.65) < 0.08
    # the state travels with the consensus: a restarted service resumes it
    resumed = Consolidator(queue, ReviewMetrics(), "dawid_skene", classes=labels).consensus.reviewer_accuracy()
    assert resumed == pytest.approx(consolidator.consensus.reviewer_accuracy(), rel=1e-9)


def answer_overlap_items(queue, consolidator, truth, error_rates, rng, labels, adjudicator="cyd"):
    """The reviewers of ``error_rates`` answer every item, then ``adjudicator`` (always right) those it is asked to."""
    for _ in truth:  # one item at a time (a claim looks through the items its reviewer has seen: keep those few)
        for reviewer, error_rate in error_rates.items():
            item = queue.claim(reviewer).item
            right = truth[item.id]
            wrong = rng.choice([label for label in labels if label != right])
            queue.answer(item.id, reviewer, item.lease, wrong if rng.random() < error_rate else right)
    while consolidator.run_once():
        pass
    while (item := queue.claim(adjudicator).item) is not None:
        queue.answer(item.id, adjudicator, item.lease, truth[item.id])
    while consolidator.run_once():
        pass


def test_agreement_is_measured_on_the_first_k_answers_not_the_adjudicators(client):
    """Two reviewers (error rates 0.1 and 0.3, 3 labels), adjudication on: the third answer, given only on
    disagreement, must not enter kappa and alpha (it would pull kappa down and alpha up: docs/review.md)."""
    import random

    rng = random.Random(5)
    labels = ["cat", "dog", "bird"]
    error_rates = {"ana": 0.1, "bob": 0.3}
    queue = make_queue(client, undo_seconds=0.0)
    consolidator = Consolidator(queue, ReviewMetrics(), "majority", adjudication=True, classes=labels)
    n = consolidator.tracker.window  # 500: every item counts
    truth = {f"k{i}": rng.choice(labels) for i in range(n)}
    queue.enqueue(items(*[(record_id, 0.5, float(i)) for i, record_id in enumerate(truth)], overlap=1.0, k=2))
    answer_overlap_items(queue, consolidator, truth, error_rates, rng, labels)
    consensus = [e for e in outbox(queue) if e["kind"] == "consensus"]
    assert len(consensus) == n and any(e["adjudicated"] for e in consensus)
    # P(agree) = 0.9 * 0.7 + 0.1 * 0.3 / 2 = 0.645, chance 1/3: kappa = alpha = 0.4675 (standard error ~0.03 at 500)
    kappa, alpha = consolidator.tracker.kappa(), consolidator.tracker.alpha()
    print(f"kappa {kappa:.3f}, alpha {alpha:.3f} (expected 0.4675)")
    assert abs(kappa - 0.4675) < 0.07 and abs(alpha - 0.4675) < 0.07
    assert set(consolidator.tracker.consensus_agreement()) == {"ana", "bob"}


def test_an_adjudication_nobody_answers_times_out_into_a_flagged_consensus(client):
    """Only the two overlap reviewers exist: after review.adjudication_timeout_seconds the item is consolidated anyway."""
    queue = make_queue(client, undo_seconds=0.0)
    metrics = ReviewMetrics()
    consolidator = Consolidator(queue, metrics, "majority", adjudication=True, adjudication_timeout_seconds=600.0)
    queue.enqueue(items(("split", 0.9, 1.0), ("held", 0.8, 1.0), overlap=1.0, k=2))
    for reviewer, label in (("ana", "cat"), ("bob", "dog")):
        for _ in range(2):
            item = queue.claim(reviewer, now=1000.0).item
            queue.answer(item.id, reviewer, item.lease, label, now=1000.0)
    assert consolidator.run_once(now=1000.0) == 0 and queue.state("split") == "waiting"  # waiting for a third reviewer
    assert queue.claim("ana", now=1001.0).item is None and queue.claim("bob", now=1001.0).item is None
    assert consolidator.run_once(now=1599.0) == 0 and queue.state("split") == "waiting"
    adjudicator = queue.claim("cyd", now=1599.0).item  # an adjudicator at work at the deadline keeps the item
    assert adjudicator.id == "split"
    assert consolidator.run_once(now=1601.0) == 1  # "held" (nobody took it) times out, "split" is cyd's
    assert queue.state("held") == "done" and queue.state("split") == "leased"
    queue.answer("split", "cyd", adjudicator.lease, "dog", now=1602.0)
    assert consolidator.run_once(now=1603.0) == 1
    consensus = {e["id"]: e for e in outbox(queue) if e["kind"] == "consensus"}
    timed_out, adjudicated = consensus["held"], consensus["split"]
    assert (timed_out["adjudicated"], timed_out["adjudication_timed_out"]) == (False, True)
    assert timed_out["answers"] == {"ana": "cat", "bob": "dog"} and timed_out["label"] == "cat"  # a tie: the first answer
    assert timed_out["confidence"] == pytest.approx(0.5)
    assert (adjudicated["adjudicated"], adjudicated["adjudication_timed_out"], adjudicated["label"]) == (True, False, "dog")
    assert metrics.value("labelstream_review_consolidated_total", result="timed_out") == 1
    assert metrics.value("labelstream_review_consolidated_total", result="adjudicated") == 1
    assert not client.zcard(f"{queue.prefix}:review:adjudicating")  # nothing left to time out
    assert Correction.model_validate(timed_out).adjudication_timed_out  # the learner reads the flag


def test_a_released_item_returns_to_the_queue_now_and_may_come_back(client):
    queue = make_queue(client)
    queue.enqueue(items(("a", 0.9, 1.0), ("b", 0.5, 1.0)))
    held = queue.claim("ana").item
    with pytest.raises(LeaseConflict):
        queue.release(held.id, "bob", held.lease)  # not bob's
    queue.release(held.id, "ana", held.lease)
    assert queue.state("a") == "waiting" and queue.counts().leased == 0
    with pytest.raises(LeaseConflict):
        queue.release(held.id, "ana", held.lease)  # once only
    assert queue.claim("bob").item.id == "a"  # at once, not after the lease
    assert queue.claim("ana").item.id == "b"
    queue.release("a", "bob", queue.claim("bob").item.lease)
    assert queue.claim("cyd").item.id == "a"


def test_a_recent_answer_is_corrected_by_a_retraction_and_a_new_answer_within_its_window(client):
    queue = make_queue(client, correct_seconds=600.0)
    queue.enqueue(items(("a", 0.9, 1.0), ("b", 0.8, 1.0), ("c", 0.7, 1.0)) + items(("o", 0.1, 1.0), overlap=1.0))
    given = {}
    for label in ("dog", "cat", "bird"):
        item = queue.claim("ana").item
        given[item.id] = queue.answer(item.id, "ana", item.lease, label, now=1000.0)
    assert [e["id"] for e in queue.recent("ana")] == ["c", "b", "a"]
    fixed = queue.correct("ana", given["a"].answer_id, "bird", note="misread", now=1100.0)
    assert (fixed.id, fixed.answer_id, fixed.retraction_id, fixed.changed) == ("a", "a#3", "a#2", True)
    assert [(e["kind"], e["id"], e["label"], e["answer_id"], e.get("supersedes"), e.get("note")) for e in outbox(queue)[3:]] == [
        ("retraction", "a", "dog", "a#2", "a#1", None),
        ("answer", "a", "bird", "a#3", "a#1", "misread"),  # supersedes: the learner counts a once
    ]
    retry = queue.correct("ana", "a#1", "bird", now=1101.0)  # a retry after a lost response: the same, nothing more
    assert (retry.answer_id, retry.retraction_id, retry.changed, retry.repeated) == ("a#3", "a#2", True, True)
    assert queue.correct("ana", "a#3", "bird", now=1102.0).changed is False  # the same label again: nothing to do
    overlap = queue.claim("bob").item
    assert len(outbox(queue)) == 5 and queue.state("a") == "done" and overlap.id == "o"  # a is not served again
    with pytest.raises(LeaseConflict, match="corrected or undone since"):
        queue.correct("ana", "a#1", "cat", now=1103.0)
    with pytest.raises(LeaseConflict, match="review.correct_seconds"):
        queue.correct("ana", "b#1", "dog", now=1000.0 + 601)
    with pytest.raises(LeaseConflict, match="not yours"):
        queue.correct("bob", "b#1", "dog", now=1100.0)
    recent = {e["id"]: e for e in queue.recent("ana")}
    assert (recent["a"]["label"], recent["a"]["answer_id"], recent["a"]["was"]) == ("bird", "a#3", "dog")
    # the corrected answer is no longer "the last one" an undo would withdraw; c (answered last) still is
    assert queue.undo("ana", now=1001.0).item.id == "c" and [e["id"] for e in queue.recent("ana")] == ["b", "a"]
    # an overlap item's vote is corrected too: an overlap answer replaces it (test below)
    queue.answer(overlap.id, "bob", overlap.lease, "cat", now=1000.0)
    assert queue.recent("bob")[0]["overlap"] is True
    fixed = queue.correct("bob", "o#1", "dog", now=1001.0)
    assert (fixed.overlap, fixed.state, outbox(queue)[-1]["kind"]) == (True, "waiting", "overlap")


def test_a_corrected_overlap_vote_replaces_the_vote_and_a_changed_consensus_is_superseded(client):
    queue = make_queue(client, undo_seconds=0.0, correct_seconds=600.0)
    metrics = ReviewMetrics()
    consolidator = Consolidator(queue, metrics, "majority", adjudication=False)
    queue.enqueue(items(("settled", 0.9, 1.0), ("pending", 0.8, 1.0), ("racing", 0.7, 1.0), overlap=1.0, k=3))
    votes = {"settled": ("cat", "cat", "dog"), "pending": ("cat", "dog", "cat"), "racing": ("cat", "cat", "dog")}
    ids: dict[tuple[str, str], str] = {}
    for index, reviewer in enumerate(("ana", "bob", "cyd")):
        for _ in range(3 if reviewer != "cyd" else 1):  # cyd answers "settled" only, for now
            item = queue.claim(reviewer).item
            ids[item.id, reviewer] = queue.answer(item.id, reviewer, item.lease, votes[item.id][index]).answer_id
    assert consolidator.run_once() == 1
    first = [e for e in outbox(queue) if e["kind"] == "consensus"]
    assert [(e["id"], e["label"]) for e in first] == [("settled", "cat")]

    # settled: bob's cat becomes dog, so dog has two votes of three: the consensus is superseded
    fixed = queue.correct("bob", ids["settled", "bob"], "dog")
    assert (fixed.overlap, fixed.state) == (True, "done") and queue.state("settled") == "done"
    assert [(e["kind"], e["label"], e.get("supersedes")) for e in outbox(queue)[-2:]] == [
        ("retraction", "cat", ids["settled", "bob"]), ("overlap", "dog", ids["settled", "bob"])]
    assert queue.claim("dan").item.id == "pending"  # a done item is not served again
    before = len(outbox(queue))
    assert consolidator.run_once() == 0 and consolidator.reconsolidate_corrected() == 0  # published already
    superseding = outbox(queue)[before:]
    assert [(e["kind"], e["id"], e["label"], e["reviewer"], e.get("supersedes")) for e in superseding] == [
        ("retraction", "settled", "cat", "consensus", first[0]["answer_id"]), ("consensus", "settled", "dog", "consensus", first[0]["answer_id"])]
    assert superseding[1]["answers"] == {"ana": "cat", "bob": "dog", "cyd": "dog"}
    assert superseding[1]["confidence"] == pytest.approx(2 / 3)
    assert all(Correction.model_validate(e) for e in superseding)
    assert metrics.value("labelstream_review_consolidated_total", result="recomputed") == 1
    # a correction that leaves the label as it is publishes no new consensus
    queue.correct("ana", ids["settled", "ana"], "bird")
    before = len(outbox(queue))
    assert consolidator.reconsolidate_corrected() == 0 and len(outbox(queue)) == before
    assert queue.ready_to_reconsolidate() == []

    # pending: ana's vote is corrected before the item has all its answers; the consensus counts the new one
    assert queue.correct("ana", ids["pending", "ana"], "dog").state in ("waiting", "leased")
    queue.release("pending", "dan", queue.claim("dan").item.lease)
    item = queue.claim("cyd").item
    assert item.id == "pending"
    queue.answer(item.id, "cyd", item.lease, "cat")
    # racing: its answers are read for consolidation, then a vote is corrected before the consensus is stored
    item = queue.claim("cyd").item
    queue.answer(item.id, "cyd", item.lease, "dog")
    rev = queue.item_field("racing", "rev")
    queue.correct("ana", ids["racing", "ana"], "dog")
    assert queue.finalize("racing", {"kind": "consensus", "id": "racing", "label": "cat"}, 3, consolidator.state_key,
                          b"{}", rev) is None  # stale: the old votes would have made it cat
    assert consolidator.run_once() == 2
    consensus = {e["id"]: e for e in outbox(queue) if e["kind"] == "consensus"}
    assert (consensus["pending"]["label"], consensus["pending"]["answers"]) == ("dog", {"ana": "dog", "bob": "dog", "cyd": "cat"})
    assert (consensus["racing"]["label"], consensus["racing"]["answers"]) == ("dog", {"ana": "dog", "bob": "cat", "cyd": "dog"})


def test_the_answer_history_pages_back_past_the_last_50_with_a_cursor_that_survives_new_answers(client):
    queue = make_queue(client, undo_seconds=30.0)
    queue.enqueue(items(*[(f"h{i:03d}", 1 - i / 1000, 1.0) for i in range(125)]))
    for i in range(120):
        item = queue.claim("ana").item
        assert item.id == f"h{i:03d}"
        queue.answer(item.id, "ana", item.lease, "cat", now=1000.0 + i)
    first, more = queue.history("ana")
    assert [e["id"] for e in first] == [f"h{i:03d}" for i in range(119, 69, -1)] and more
    # answers given meanwhile go in front; a correction changes its entry in place: the cursor still holds
    item = queue.claim("ana").item
    queue.answer(item.id, "ana", item.lease, "dog", now=1200.0)
    queue.correct("ana", first[-1]["answer_id"], "bird", now=1201.0)
    second, more = queue.history("ana", after=first[-1]["id"])
    assert [e["id"] for e in second] == [f"h{i:03d}" for i in range(69, 19, -1)] and more
    third, more = queue.history("ana", after=second[-1]["id"], limit=50)
    assert [e["id"] for e in third] == [f"h{i:03d}" for i in range(19, -1, -1)] and not more
    assert queue.history("ana", after="h050", limit=3) == (
        [e for e in second if e["id"] in ("h049", "h048", "h047")], True)
    assert queue.recent("ana", limit=2) == queue.history("ana", limit=2)[0]
    assert queue.recent("ana")[0]["id"] == "h120" and queue.history("ana")[0][50 - 1]["id"] == "h071"
    # an undone answer leaves the history: a cursor on it is refused, not silently restarted
    assert queue.undo("ana", now=1202.0).item.id == "h120"
    with pytest.raises(LeaseConflict, match="no longer in your history"):
        queue.history("ana", after="h120")
    assert queue.history("bob") == ([], False)


def test_a_consensus_keeps_its_answers_in_the_order_they_were_given(client):
    # the learner takes the first answer as one reviewer's (docs/contract.md, Noisy reviewers): a Lua table has
    # no order, so the scripts add the answer id to the correction's JSON rather than decode and encode it again
    queue = make_queue(client, undo_seconds=0.0, correct_seconds=600.0)
    consolidator = Consolidator(queue, ReviewMetrics(), "majority", adjudication=False)
    queue.enqueue(items(("a", 0.9, 1.0), overlap=1.0, k=4))
    order = ["zed", "mia", "ana", "bob"]
    for reviewer, label in zip(order, ["cat", "dog", "dog", "cat"], strict=True):
        item = queue.claim(reviewer).item
        queue.answer(item.id, reviewer, item.lease, label)
    assert consolidator.run_once() == 1
    consensus = [e for e in outbox(queue) if e["kind"] == "consensus"]
    assert list(consensus[0]["answers"].items()) == [("zed", "cat"), ("mia", "dog"), ("ana", "dog"), ("bob", "cat")]
    assert consensus[0]["label"] == "cat" and consensus[0]["answer_id"] == "a#5"  # a tie: the first answer's label
    queue.correct("bob", "a#4", "dog")  # dog 3 of 4 now: the recomputed consensus, in the same order
    assert consolidator.reconsolidate_corrected() == 1
    recomputed = outbox(queue)[-1]
    assert list(recomputed["answers"].items()) == [("zed", "cat"), ("mia", "dog"), ("ana", "dog"), ("bob", "dog")]
    assert (recomputed["label"], recomputed["answer_id"]) == ("dog", "a#9")


def test_an_item_a_reviewer_is_not_sure_of_goes_to_experts_only(client):
    queue = make_queue(client, undo_seconds=0.0)
    queue.enqueue(items(("hard", 0.9, 1.0), ("easy", 0.5, 1.0)) + items(("pair", 0.1, 1.0), overlap=1.0, k=2))
    item = queue.claim("ana").item
    assert item.id == "hard"
    queue.unsure("hard", "ana", item.lease, note="two animals?")
    assert queue.counts().expert == 1 and queue.counts().waiting == 2  # not in the reviewers' line any more
    assert queue.claim("bob").item.id == "easy"  # a reviewer is not served it
    expert = queue.claim("eve", expert=True).item  # an expert is, before the rest
    assert expert.id == "hard" and queue.skip_notes("hard")[0] | {"at": 0} == {
        "reviewer": "ana", "note": "two animals?", "at": 0, "unsure": True}
    queue.release("hard", "eve", expert.lease)  # handed back (or a lease ended): to the experts again
    assert queue.counts().expert == 1 and queue.claim("ana", expert=False).item.id == "pair"
    with pytest.raises(LeaseConflict):
        queue.unsure("hard", "eve", expert.lease)  # the lease is gone
    expert = queue.claim("eve", expert=True).item
    assert queue.answer("hard", "eve", expert.lease, "dog").state == "done" and queue.counts().expert == 0
    # an overlap item: once an expert answered, its other answer may come from anyone
    pair = queue.claim("ana").item  # ana holds "pair" from above: the same lease renewed
    queue.unsure("pair", "ana", pair.lease)
    assert queue.claim("cyd").item is None
    pair = queue.claim("eve", expert=True).item
    assert pair.id == "pair" and queue.answer("pair", "eve", pair.lease, "cat").state == "waiting"
    assert queue.counts().expert == 0 and queue.claim("cyd").item.id == "pair"
    assert queue.overview().reviewers["ana"]["unsure_today"] == 2


def test_an_item_no_expert_takes_in_time_goes_back_to_the_other_reviewers_note_kept(client):
    queue = make_queue(client, lease_seconds=60.0, expert_wait_seconds=600.0)
    queue.enqueue(items(("held", 0.9, 1.0), ("hard", 0.8, 1.0), ("late", 0.7, 1.0)))
    for reviewer, record_id, now in (("ana", "held", 1000.0), ("ana", "hard", 1000.0), ("bob", "late", 1500.0)):
        item = queue.claim(reviewer, now=now).item
        assert item.id == record_id
        queue.unsure(record_id, reviewer, item.lease, note="two animals?" if record_id == "hard" else None, now=now)
    held = queue.claim("eve", now=1550.0, expert=True).item  # an expert holds "held" past its deadline
    assert held.id == "held"
    assert queue.time_out_experts(now=1599.0) == 0  # not 600 s yet
    assert queue.time_out_experts(now=1601.0) == 1  # hard; held is the expert's; late waits since 1500
    assert (queue.counts().expert, queue.counts().waiting, queue.counts().expert_timed_out) == (1, 1, 1)
    assert queue.item_fields("hard", "expert", "no_expert") == [None, "1601"]
    assert queue.skip_notes("hard")[0]["note"] == "two animals?"  # the note goes with it
    assert queue.claim("ana", now=1602.0).item is None  # never back to who was not sure
    back = queue.claim("cyd", now=1602.0).item
    assert back.id == "hard" and queue.answer("hard", "cyd", back.lease, "dog", now=1603.0).state == "done"
    queue.release("held", "eve", held.lease, now=1605.0)  # the expert hands it back: past its deadline, it goes
    assert queue.time_out_experts(now=1611.0) == 1 and queue.claim("dan", now=1612.0).item.id == "held"
    assert queue.time_out_experts(now=2101.0) == 1 and queue.counts().expert_timed_out == 3  # late
    assert queue.time_out_experts(now=9999.0) == 0 and client.zcard(f"{queue.prefix}:review:expert_since") == 0
    forever = make_queue(client, expert_wait_seconds=0.0)  # 0: wait for an expert forever
    forever.enqueue(items(("x", 0.9, 1.0)))
    item = forever.claim("ana", now=1000.0).item
    forever.unsure("x", "ana", item.lease, now=1000.0)
    assert forever.time_out_experts(now=10**9) == 0 and forever.counts().expert == 1
    taken = forever.claim("eve", now=1001.0, expert=True).item
    forever.answer("x", "eve", taken.lease, "cat", now=1002.0)  # answered: no longer listed as waiting for one
    assert client.zcard(f"{forever.prefix}:review:expert_since") == 0
