"""Simulated reviewers: their choices (pure, seeded), and ``labelstream run reviewer-sim --via-api`` against the service."""

from __future__ import annotations

import json
import math
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter

import pytest
from client_support import (
    LABELS,
    LABELSTREAM,
    cli_env,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_stack,
    url,
    wait_enqueued,
    wait_for,
    write_truth,
)

from labelstream.review.auth import TokenStore
from labelstream.review_client.simulated import (
    THINK_SIGMA,
    Behaviour,
    ReviewerSpec,
    SimulatedReviewers,
    error_rates_for,
)
from labelstream.store.connection import connect

# -- choices ---------------------------------------------------------------------------------------
# 20000 items: every share below is checked within four standard errors of what was asked (a correct
# implementation fails about 1 in 16000 times per check; the draws are seeded, so it never flakes).

N = 20_000


def decisions(behaviour: Behaviour, reviewer: str = "sim-1", truth: str = "cat") -> list:
    return [behaviour.decide(reviewer, f"r{i}", truth, LABELS) for i in range(N)]


def within(share: float, p: float) -> bool:
    return abs(share - p) <= 4 * math.sqrt(p * (1 - p) / N)


def test_wrong_answers_come_at_the_error_rate_uniformly_over_the_other_labels():
    picks = decisions(Behaviour(error_rate=0.3, seed=1))
    wrong = [p for p in picks if p.wrong]
    assert within(len(wrong) / N, 0.3)
    assert all(p.label != "cat" for p in wrong) and all(p.label == "cat" for p in picks if not p.wrong)
    counts = Counter(p.label for p in wrong)
    assert set(counts) == {"dog", "bird"} and abs(counts["dog"] / len(wrong) - 0.5) <= 4 * math.sqrt(0.25 / len(wrong))


def test_skips_come_at_the_skip_rate_and_think_times_average_the_delay():
    picks = decisions(Behaviour(error_rate=0.1, delay_seconds=6.0, skip_rate=0.05, seed=2))
    assert within(sum(p.label is None for p in picks) / N, 0.05)
    thinks = [p.think_seconds for p in picks]
    sd = 6.0 * math.sqrt(math.exp(THINK_SIGMA**2) - 1)  # of a log-normal with mean 6
    assert abs(statistics.fmean(thinks) - 6.0) <= 4 * sd / math.sqrt(N)
    assert statistics.median(thinks) == pytest.approx(6.0 * math.exp(-THINK_SIGMA**2 / 2), rel=0.03)
    assert decisions(Behaviour(delay_seconds=0.0))[0].think_seconds == 0.0


def test_choices_depend_on_reviewer_and_item_only_and_reviewers_err_independently():
    first, second = Behaviour(error_rate=0.4, seed=3), Behaviour(error_rate=0.4, seed=3)
    ids = [f"r{i}" for i in range(N)]
    forward = [first.decide("ana", i, "cat", LABELS) for i in ids]
    backward = [second.decide("ana", i, "cat", LABELS) for i in reversed(ids)][::-1]
    assert forward == backward  # the order of the claims does not matter
    other = [first.decide("ben", i, "cat", LABELS) for i in ids]
    both = sum(a.wrong and b.wrong for a, b in zip(forward, other, strict=True)) / N
    assert within(both, 0.4 * 0.4)  # independent: P(both wrong) = e1 * e2
    reseeded = [Behaviour(error_rate=0.4, seed=4).decide("ana", i, "cat", LABELS) for i in ids]
    assert reseeded != forward


def test_one_label_set_cannot_be_answered_wrongly_and_rates_are_checked():
    assert not any(p.wrong for p in [Behaviour(error_rate=1.0).decide("a", f"r{i}", "cat", ["cat"]) for i in range(50)])
    with pytest.raises(ValueError, match="error_rate"):
        Behaviour(error_rate=1.5)
    with pytest.raises(ValueError, match="one per reviewer"):
        error_rates_for(3, [0.1, 0.2])


# -- through the API -------------------------------------------------------------------------------


def sim_tokens(settings) -> list[str]:  # noqa: ANN001
    return [info.reviewer for info in TokenStore(connect(settings.redis), settings.redis.key_prefix).list()
            if info.reviewer.startswith("sim-")]


@pytest.mark.integration
def test_reviewer_sim_via_api_answers_every_item_once_as_its_seeded_choices_say(redis_up, tmp_path):
    settings, review = review_stack(redis_up, tmp_path)
    rates = {"sim-1": 0.1, "sim-2": 0.3, "sim-3": 0.5}
    truth = {f"s{i:03d}": LABELS[i % 3] for i in range(60)}
    try:
        publish_requests(settings, [request(record_id) for record_id in truth])
        with client(review, new_token(settings, "observer")) as api:
            wait_enqueued(api, len(truth))
        # every item is queued before the reviewers start (no skips, no lease ends): 1 s of empty claims is the end
        sim = subprocess.run(
            [LABELSTREAM, "run", "reviewer-sim", "--via-api", "--url", url(review), "--data",
             str(write_truth(tmp_path / "truth.jsonl", truth)), "--label-column", "label", "--id-column", "id",
             "--reviewers", "3", "--error-rate", "0.1,0.3,0.5", "--seed", "5", "--stop-when-idle", "1", "--json"],
            env=cli_env(settings), capture_output=True, text=True, timeout=300,
        )
        assert sim.returncode == 0, sim.stderr[-3000:]
        assert "HTTP Request" not in sim.stderr  # one line per request would drown the log
        tallies = json.loads(sim.stdout.strip().splitlines()[-1])["reviewers"]
        assert sim_tokens(settings) == []  # the tokens it created are revoked
    finally:
        review.stop(20)
    answers = wait_for(lambda: (found := corrections(settings)) and len(found) >= len(truth) and found, 60,
                       "an answer per item")
    assert sorted(c["id"] for c in answers) == sorted(truth)  # each once
    for c in answers:
        expected = Behaviour(rates[c["reviewer"]], seed=5).decide(c["reviewer"], c["id"], truth[c["id"]], LABELS)
        assert c["label"] == expected.label, c
    by_reviewer = Counter(c["reviewer"] for c in answers)
    wrong = Counter(c["reviewer"] for c in answers if c["label"] != truth[c["id"]])
    assert {name: (t["answered"], t["wrong"]) for name, t in tallies.items()} == {
        name: (by_reviewer[name], wrong[name]) for name in rates
    }


@pytest.mark.integration
def test_stop_when_idle_waits_for_every_reviewer_to_look_again_after_the_last_answer(redis_up, tmp_path):
    # One item for three reviewers (overlap_k = 3). The first to claim it thinks 1.1-1.6 s; the two others found
    # nothing and poll again 2-6 s later (poll_seconds 4). When the first answers, the item is back in line for
    # them: a stop after 1 s of empty claims (what stop_when_idle meant before) ends the run before they look
    # again, and the item never gets its other two answers (test_overlap_run timed out so on a loaded CI run).
    settings, review = review_stack(redis_up, tmp_path, overlap_share=1.0, overlap_k=3, adjudication=False,
                                    undo_seconds=0.0)
    names = ["sim-1", "sim-2", "sim-3"]
    seed = next(s for s in range(10_000) if all(
        1.1 < Behaviour(0.0, 1.3, seed=s).decide(name, "one", "cat", LABELS).think_seconds < 1.6 for name in names))
    try:
        publish_requests(settings, [request("one")])
        with client(review, new_token(settings, "observer")) as api:
            wait_enqueued(api, 1)
        crew = SimulatedReviewers(url(review), [ReviewerSpec(n, new_token(settings, n), 0.0) for n in names],
                                  {"one": "cat"}, delay_seconds=1.3, seed=seed, stop_when_idle=1.0, poll_seconds=4.0)
        guard = threading.Timer(60, crew.stop)  # a run that never sees itself idle fails below rather than hangs
        guard.start()
        started = time.monotonic()
        try:
            tallies = crew.run(report_every=0)
        finally:
            guard.cancel()
        assert time.monotonic() - started < 50  # it did stop by itself, once idle
        assert {name: t["answered"] for name, t in tallies.items()} == dict.fromkeys(names, 1)
        consensus = wait_for(lambda: [c for c in corrections(settings) if c["kind"] == "consensus"], 30, "the consensus")
        assert sorted(consensus[0]["answers"]) == names
    finally:
        review.stop(20)


LEASE = 9.0
THINK = 14.0


@pytest.mark.integration
def test_long_thinking_keeps_the_lease_and_sigterm_hands_the_held_items_back_at_once(redis_up, tmp_path):
    settings, review = review_stack(redis_up, tmp_path, lease_seconds=LEASE)
    ids = [f"h{i}" for i in range(6)]
    names = ["sim-1", "sim-2"]
    # a seed under which either reviewer, on either of the first two items, thinks 1.3 to 2.2 leases:
    # the answers prove the heartbeats (a lease ends after 9 s without one), and the test stays short
    seed = next(s for s in range(10_000) if all(
        1.3 * LEASE < Behaviour(0.0, THINK, seed=s).decide(name, record_id, "cat", LABELS).think_seconds < 2.2 * LEASE
        for name in names for record_id in ids[:2]))
    try:
        publish_requests(settings, [request(record_id, priority=1 - i / 10) for i, record_id in enumerate(ids)])
        with client(review, new_token(settings, "observer")) as api:
            wait_enqueued(api, len(ids))
            sim = subprocess.Popen(
                [LABELSTREAM, "run", "reviewer-sim", "--via-api", "--url", url(review), "--data",
                 str(write_truth(tmp_path / "truth.jsonl", dict.fromkeys(ids, "cat"))), "--label-column", "label",
                 "--id-column", "id", "--reviewers", "2", "--delay-seconds", str(THINK), "--seed", str(seed), "--json"],
                env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            try:
                first = wait_for(lambda: (found := corrections(settings)) and len(found) >= 2 and found, 2.2 * LEASE + 60,
                                 "the first two answers")
                assert sorted(c["id"] for c in first) == ids[:2]
                assert 'labelstream_review_leases_expired_total 0.0' in review.metrics_text()
                wait_for(lambda: api.get("/api/v1/stats").json()["queue"]["leased"] == 2, 30, "the next two claims")
                stopped_at = time.monotonic()
                sim.send_signal(signal.SIGTERM)
                out, err = sim.communicate(timeout=30)
                assert time.monotonic() - stopped_at < 10  # no waiting for the thinking to end
            finally:
                if sim.poll() is None:
                    sim.kill()
            assert sim.returncode == 0, err[-3000:]
            tallies = json.loads(out.strip().splitlines()[-1])["reviewers"]
            assert {name: (t["answered"], t["lease_lost"], t["released"]) for name, t in tallies.items()} == {
                n: (1, 0, 1) for n in names}
            assert sim_tokens(settings) == []
            # the two items they held were handed back on the way out (POST /release): waiting again now, not
            # after their leases (not skipped either: either reviewer may still answer them)
            queue = api.get("/api/v1/stats").json()["queue"]
            assert (queue["waiting"], queue["leased"]) == (4, 0), queue
    finally:
        review.stop(20)
    assert len(corrections(settings)) == 2  # nothing answered after the stop
