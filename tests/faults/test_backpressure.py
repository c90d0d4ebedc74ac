"""Backpressure: nobody answers reviews and no learner runs; the labeler keeps routing 50k records in bounded memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fault_harness import RecordStream, Services, committed_records, health_count, wait_for, write_figures, write_stream

from labelstream.kafka.outcomes import read_ledger

pytestmark = pytest.mark.faults

RECORDS = 50_000
RSS_GROWTH_LIMIT_MB = 150


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_labeler_keeps_going_in_bounded_memory_when_review_is_down(settings_factory, tmp_path):
    # Everything goes to review (cold start never ends without corrections), and review is not consumed.
    settings = settings_factory(policy={"cold_start_records": RECORDS})
    payloads, _truth = write_stream(tmp_path / "stream.csv", RECORDS, seed=5, prefix="b")
    services = Services(settings, tmp_path / "logs")
    try:
        labeler = services.start("labeler", instance="0")
        labeler.wait_until_serving(120)
        pid = labeler.process.pid
        warmup = 5_000
        stream = RecordStream(settings, list(payloads.values()), rate=20_000, limit=warmup).start()
        wait_for(lambda: health_count(labeler, "batches_committed") > 0, 60, "the first batches")
        stream.wait_until(warmup)
        time.sleep(3)
        rss_before = rss_mb(pid)
        stream.limit = RECORDS
        stream.join(300)
        # the group's committed offsets reach RECORDS when the last batch commits: a cheap poll, then one ledger read
        wait_for(lambda: committed_records(settings) >= RECORDS, 240, f"all {RECORDS} records committed", interval=0.5)

        def all_routed():
            ledger = read_ledger(settings, timeout=120)
            return ledger if len(ledger.routing) >= RECORDS else None

        ledger = wait_for(all_routed, 60, f"all {RECORDS} records routed", interval=2)
        rss_after = rss_mb(pid)
        assert labeler.alive
    finally:
        services.stop_all()
    assert ledger.missing(payloads) == set() and ledger.duplicated() == {}
    assert ledger.outcome_counts() == {"review": RECORDS}
    growth = rss_after - rss_before
    figures = {"records": RECORDS, "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1), "growth_mb": round(growth, 1)}
    print("backpressure:", figures)
    write_figures("backpressure", figures)
    assert growth < RSS_GROWTH_LIMIT_MB, figures
