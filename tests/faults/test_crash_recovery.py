"""Kill -9 the labeler and the learner (and restart the broker and Redis) mid-stream: nothing lost, nothing duplicated.

Size: ``LABELSTREAM_FAULTS_RECORDS`` (CI 8000; ``bench/faults.py`` runs 200000
and writes RELIABILITY.md). The services are real processes on the real stack.

CI strikes the kills only (2 of the labeler, 2 of the learner): broker and Redis
restarts under the same three services, with the same audit (every record one
outcome, every review answered once and learned exactly once), are
``test_outages.py``'s, which takes each down for longer than every timeout.
``bench/faults.py`` sets ``LABELSTREAM_FAULTS_FULL`` and strikes all seven
faults of the published figures (3 + 2 kills, a broker and a Redis restart).
"""

from __future__ import annotations

import time

import pytest
from fault_harness import (
    FaultRunner,
    RecordStream,
    Services,
    audit,
    fault_plan,
    figures,
    full_plan,
    rate_wanted,
    records_wanted,
    reviewed_ids,
    run_faults,
    seed_wanted,
    settle,
    stack,
    wait_for,
    wait_for_stack,
    write_stream,
)

from labelstream.kafka.outcomes import Ledger, read_ledger

pytestmark = pytest.mark.faults

FULL_FAULTS = ["kill_labeler"] * 3 + ["kill_learner"] * 2 + ["restart_kafka", "restart_redis"]
CI_FAULTS = ["kill_labeler"] * 2 + ["kill_learner"] * 2


def auto_labels(ledger: Ledger) -> int:
    """Records auto-labeled on arrival or by a relabel."""
    return sum(1 for outs in ledger.routing.values() if outs and outs[0] == "label") + sum(
        1 for outs in ledger.relabels.values() if outs and outs[-1] == "label")


def test_kills_and_restarts_lose_nothing_and_duplicate_nothing(settings_factory, tmp_path):
    n, seed = records_wanted(), seed_wanted()
    settings = settings_factory(policy={"review_budget_share": 0.4})
    data = tmp_path / "stream.csv"
    payloads, truth = write_stream(data, n, seed)
    services = Services(settings, tmp_path / "logs")
    started = time.monotonic()
    try:
        labeler, learner = services.start_loop(data)

        faults = fault_plan(n, seed, FULL_FAULTS if full_plan() else CI_FAULTS)
        stream = RecordStream(settings, list(payloads.values()), rate_wanted(n), limit=faults[0].at_record).start()
        run_faults(stream, FaultRunner(settings, labeler, learner), faults)
        stream.join(900)
        ledger = settle(settings, list(payloads), learner, timeout=180 + n / 200)
        if not auto_labels(ledger):
            # Under load every record can be routed before the answers prove a threshold: the proof then comes
            # with the last versions, and the labeler relabels the deferred records some seconds later.
            wait_for(lambda: auto_labels(read_ledger(settings)), 180, "an auto-label after the first proof", 2.0)
            ledger = settle(settings, list(payloads), learner, timeout=180)
        result = audit(settings, payloads, truth, learner, ledger)
        figures("crash_recovery", settings, result, faults, time.monotonic() - started, rate=rate_wanted(n), seed=seed)
    finally:
        services.stop_all()
        stack("start", "all")  # harmless when up; brings back a part a failed restart left down
        wait_for_stack(settings)

    reviewed = len(reviewed_ids(ledger))
    assert result.lost == 0, result.examples
    assert result.duplicated == 0, result.examples
    assert result.routed == n
    assert result.dead_letters == 0
    # Every path ran: auto-labels (on arrival, or by relabel when the first proof came after the stream:
    # under load the 8000 records can all be routed before the answers prove a threshold), reviews, deferrals.
    assert {"review", "deferred"} <= set(result.outcomes), result.outcomes
    assert result.outcomes.get("label", 0) + result.relabel_outcomes.get("label", 0) > 0, (
        result.outcomes, result.relabel_outcomes)
    # Every review answered once (the reviewer is an oracle) and every answer learned exactly once.
    assert result.corrections == result.distinct_corrections == reviewed
    assert result.learned == result.distinct_corrections, (result.learned, result.distinct_corrections)
    assert result.snapshot_learned == result.distinct_corrections
    # Human labels: one answer per reviewed record; a replayed one repeats the same label (harmless).
    assert result.human_labels == reviewed
    assert result.conflicting_human_labels == 0
    assert result.final_labels_wrong == 0
    assert all(f.recovery_seconds is not None for f in faults)
