"""Two labelers in one group; one is killed for good mid-stream: the other takes its partitions, nothing lost or duplicated."""

from __future__ import annotations

import re
import time

import pytest
from fault_harness import (
    Fault,
    RecordStream,
    Services,
    audit,
    figures,
    health_count,
    longest_wait_after,
    rate_wanted,
    records_wanted,
    reviewed_ids,
    seed_wanted,
    settle,
    wait_for,
    write_stream,
)

pytestmark = pytest.mark.faults


def test_a_labeler_killed_for_good_hands_its_partitions_over(settings_factory, tmp_path):
    n, seed = records_wanted(), seed_wanted()
    settings = settings_factory(policy={"review_budget_share": 0.25})
    data = tmp_path / "stream.csv"
    payloads, truth = write_stream(data, n, seed, prefix="g")
    services = Services(settings, tmp_path / "logs")
    started = time.monotonic()
    try:
        survivor = services.start("labeler", instance="0")
        doomed = services.start("labeler", instance="1")
        learner = services.start("learner")
        services.start("reviewer-sim", "--data", str(data), "--label-column", "label", "--id-column", "id")
        for proc in (survivor, doomed, learner):
            proc.wait_until_serving(120)
        # Both labelers own partitions before the stream starts.
        wait_for(lambda: all(re.search(r"assigned \[\d", p.log_path.read_text()) for p in (survivor, doomed)), 60, "both labelers assigned partitions")

        fault = Fault("kill_labeler_for_good", at_record=int(n * 0.4))
        stream = RecordStream(settings, list(payloads.values()), rate_wanted(n), limit=fault.at_record).start()
        stream.wait_until(fault.at_record)
        wait_for(lambda: health_count(doomed, "batches_committed") > 0, 60, "the doomed labeler to commit")
        assigned_before = survivor.log_path.read_text().count("assigned [")
        fault.at = time.time()
        doomed.kill()
        stream.limit = n
        # The survivor is assigned every partition (after the dead member's session times out)...
        wait_for(lambda: any(
            line.endswith("assigned [0, 1, 2]") for line in survivor.log_path.read_text().splitlines()[-50:]
        ) and survivor.log_path.read_text().count("assigned [") > assigned_before, 120, "the survivor to take all partitions")
        fault.down_seconds = round(time.time() - fault.at, 2)
        # ...and processes the dead one's partitions: every record produced after the kill gets routed.
        stream.join(900)
        ledger = settle(settings, list(payloads), learner, timeout=180 + n / 200)
        fault.recovery_seconds = round(longest_wait_after(settings, fault.at), 2)
        result = audit(settings, payloads, truth, learner, ledger)
        figures("rebalance", settings, result, [fault], time.monotonic() - started, rate=rate_wanted(n), seed=seed)
    finally:
        services.stop_all()

    reviewed = len(reviewed_ids(ledger))
    assert result.lost == 0, result.examples
    assert result.duplicated == 0, result.examples
    assert result.routed == n and result.dead_letters == 0
    assert result.corrections == result.distinct_corrections == reviewed
    assert result.learned == result.snapshot_learned == result.distinct_corrections
    assert result.human_labels == reviewed and result.conflicting_human_labels == 0
