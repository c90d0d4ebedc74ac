"""The throughput benchmark's arithmetic: routing shares from metrics, medians of within-round ratios."""

import os
import time

from labelstream.bench.committed import partition_window
from labelstream.bench.cpu import CpuWindow, cpu_pressure_seconds, cpu_wait_seconds
from labelstream.bench.results import median_ratio, median_run, routing_shares, scaling_order, scaling_summary
from labelstream.bench.throughput_report import _bound, _shares, scaling_markdown, throughput_markdown

METRICS = """# HELP labelstream_record_outcomes_total Valid records by outcome and reason.
labelstream_record_outcomes_total{outcome="label",reason="confident"} 75.0
labelstream_record_outcomes_total{outcome="label",reason="audit_pass"} 5.0
labelstream_record_outcomes_total{outcome="review",reason="uncertain"} 15.0
labelstream_record_outcomes_total{outcome="deferred",reason="over_budget"} 0.0
labelstream_records_invalid_total{error_kind="duplicate_id"} 5.0
labelstream_record_outcomes_created{outcome="label",reason="confident"} 1.7e9
"""


def test_routing_shares_add_outcomes_over_reasons_and_labelers():
    assert routing_shares([METRICS, METRICS]) == {"dead_letter": 0.05, "label": 0.8, "review": 0.15}
    assert routing_shares(["# nothing routed"]) == {}


def test_ratios_are_taken_within_a_round_then_the_median():
    # a slow second round hits both paths: the within-round ratio stays 0.5, the ratio of medians would not
    labeler = [{"records_per_second": 50.0, "cpu_us_per_record": 20.0}, {"records_per_second": 10.0, "cpu_us_per_record": 30.0},
               {"records_per_second": 60.0, "cpu_us_per_record": 25.0}]
    passthrough = [{"records_per_second": 100.0}, {"records_per_second": 20.0}, {"records_per_second": 200.0}]
    assert median_ratio(labeler, passthrough) == 0.5
    chosen = median_run(labeler)
    assert (chosen["records_per_second"], chosen["cpu_us_per_record"]) == (50.0, 25.0)
    assert chosen["rounds_records_per_second"] == [50.0, 10.0, 60.0]


def test_cpu_window_gives_each_process_its_cpu_between_start_and_stop():
    window = CpuWindow({"bench": os.getpid()})
    window.clock("stop")  # no start: no figure
    assert window.cores == {}
    window.clock("start")
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < 0.3:  # busy: whatever share of a core the machine gives it
        pass
    expected = (time.process_time() - cpu) / (time.perf_counter() - wall)
    window.clock("stop")
    assert abs(window.cores["bench"] - expected) < 0.1  # /proc counts in 10 ms ticks: 0.03 of 0.3 s each end
    assert window.cores["bench"] > 0.05
    assert 0 < window.cores["machine"] <= (os.cpu_count() or 1)


def test_the_report_gives_the_cpu_of_each_process_while_a_rate_was_offered():
    run = {"records": 1000, "records_per_second": 100.0, "cpu_us_per_record": 10.0, "rss_mb": 1.0, "peak_rss_mb": 1.0}
    latency = {"n": 10, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0,
               "cpu_cores": {"labeler": 0.41, "bench": 0.28, "broker": 0.6, "machine": 1.9}}
    scaling = {"one": run, "two": run, "ratio": 1.0}
    results = {"machine": {"date": "d", "machine": "m", "cpus": 2, "python": "3.11"}, "command": "c",
               "config": {"records": 1000}, "passthrough": run, "labeler": run, "labeler_vs_passthrough": 1.0,
               "latency": {"10000": latency, "1000": {k: v for k, v in latency.items() if k != "cpu_cores"}},
               "model_update": {"n": 1, "p50_ms": 1.0, "p95_ms": 1.0}, "scaling": scaling}
    text = throughput_markdown(results)
    assert ("CPU while 10,000/s was offered, in cores of the 2: the labeler 0.41, the broker 0.6, "
            "the benchmark's producer and reader 0.28; the whole machine 1.9.") in text
    assert "CPU while 1,000/s" not in text


def test_the_scaling_note_gives_every_process_its_share_of_the_cores():
    one = {"records_per_second": 100.0, "machine_busy": 0.6, "cpu_shares": [0.9], "broker_cpu_share": 0.1,
           "bench_cpu_share": 0.05}
    two = {"records_per_second": 150.0, "machine_busy": 0.9, "cpu_shares": [0.6, 0.7], "broker_cpu_share": 0.2,
           "bench_cpu_share": 0.1}
    text = _shares({"one": one, "two": two, "ratio": 1.5}, cpus=2)
    assert ("one labeler 0.90 (broker 0.10, benchmark 0.05, rest of the machine 0.15, idle 0.80); two labelers "
            "0.60 + 0.70 (broker 0.20, benchmark 0.10, rest of the machine 0.20, idle 0.20)") in text
    del one["bench_cpu_share"], one["machine_busy"]
    assert "one labeler 0.90 (broker 0.10);" in _shares({"one": one, "two": two, "ratio": 1.5})


def test_the_scaling_note_says_whether_the_labelers_waited_for_a_cpu_and_what_bound_them():
    one = {"records_per_second": 100.0, "machine_busy": 0.6, "cpu_shares": [0.9], "broker_cpu_share": 0.1,
           "cpu_wait_shares": [0.02], "cpu_pressure": 0.05}
    two = {"records_per_second": 150.0, "machine_busy": 0.8, "cpu_shares": [0.6, 0.6], "broker_cpu_share": 0.2,
           "cpu_wait_shares": [0.03, 0.05], "cpu_pressure": 0.1, "partition_records": [600, 400]}
    text = _shares({"one": one, "two": two, "ratio": 1.5}, cpus=2)
    assert ("Runnable but waiting for a CPU, in seconds a second summed over each labeler's threads: one labeler 0.02; "
            "two labelers 0.03 + 0.05; some task of the machine waited for a CPU 5% of the window with one labeler, "
            "10% with two (/proc/pressure/cpu).") in text
    assert "the partitions (one a labeler) took 60% / 40%." in text
    assert "With two labelers 0.40 cores were idle and neither labeler waited for a CPU" in text
    # the machine full and both labelers waiting for a CPU: the cores
    full = {**two, "machine_busy": 0.98, "cpu_wait_shares": [0.5, 0.3]}
    assert _bound(full, cpus=2) == (" With two labelers the cores were the bound: the machine was 98% busy and each "
                                    "labeler's threads waited for a CPU 0.30 s a second or more.")
    assert _bound(full, cpus=2, one=one).endswith(
        "; the labelers had 1.20 of the 2 cores (the rest went to the broker, the benchmark and the rest of the machine), "
        "one labeler alone used 0.90: at the same CPU a record, at most 1.33 × on this machine at that load.")
    # idle cores but a labeler waiting for a CPU, or a full machine with a labeler that did not wait: no verdict
    assert _bound({**two, "cpu_wait_shares": [0.5, 0.05]}, cpus=2) == ""
    assert _bound({**full, "cpu_wait_shares": [0.5, 0.05]}, cpus=2) == ""
    assert "waiting for a CPU" not in _shares({"one": {**one, "cpu_wait_shares": None}, "two": two, "ratio": 1.5})


def test_the_scaling_window_opens_when_every_partition_is_past_its_start_and_closes_when_one_is_near_its_end():
    opened, closed = partition_window([100, 200], (0.2, 0.9))
    assert not opened([100, 39]) and opened([20, 40])  # each partition its own share: 20 of 100, 40 of 200
    assert not closed([89, 179]) and closed([90, 0]) and closed([0, 180])


def test_cpu_waits_and_pressure_are_read_from_the_kernel():
    waited = cpu_wait_seconds(os.getpid())
    assert waited >= 0 and cpu_wait_seconds(os.getpid()) >= waited  # a clock: never goes back
    pressure = cpu_pressure_seconds()
    assert pressure is None or pressure >= 0


def test_scaling_pairs_alternate_and_report_the_median_of_within_pair_ratios():
    assert [scaling_order(pair) for pair in (1, 2, 3)] == [(1, 2), (2, 1), (1, 2)]

    def run(rate: float, cpu: float) -> dict:
        return {"records": 1000, "records_per_second": rate, "cpu_us_per_record": cpu}

    # a slow middle pair hits both sides: within-pair ratios 2.0, 1.5, 2.2 -> median 2.0; the ratio of the median
    # runs would be 180 / 100 = 1.8
    pairs = [{"one": run(100.0, 40.0), "two": run(200.0, 42.0)}, {"one": run(40.0, 50.0), "two": run(60.0, 55.0)},
             {"one": run(110.0, 41.0), "two": run(242.0, 43.0)}]
    summary = scaling_summary(pairs)
    assert summary["ratio"] == 2.0
    assert [p["ratio"] for p in summary["pairs"]] == [2.0, 1.5, 2.2]
    assert [p["order"] for p in summary["pairs"]] == ["one, two", "two, one", "one, two"]
    assert (summary["one"]["records_per_second"], summary["one"]["cpu_us_per_record"]) == (100.0, 41.0)
    assert (summary["two"]["records_per_second"], summary["two"]["cpu_us_per_record"]) == (200.0, 43.0)
    summary["seconds"] = 95.4
    text = scaling_markdown(summary)
    assert ("3 interleaved pairs of runs: pair 1 (one, two): 1 labeler 100/s at 40.0 µs CPU a record, 2 labelers "
            "200/s at 42.0 µs CPU a record, 2.00 ×; pair 2 (two, one): 1 labeler 40/s at 50.0 µs CPU a record, "
            "2 labelers 60/s at 55.0 µs CPU a record, 1.50 ×; pair 3 (one, two): 1 labeler 110/s at 41.0 µs CPU a "
            "record, 2 labelers 242/s at 43.0 µs CPU a record, 2.20 ×. **Median ratio 2.00 ×**") in text
    assert "over the runs, 1 labeler 100/s at 41.0 µs CPU a record, 2 labelers 200/s at 43.0 µs CPU a record (" in text
    assert "The 6 scaling runs took 95 s." in text
    one_pair = scaling_markdown(scaling_summary(pairs[:1]))
    assert "1 interleaved pair of runs: pair 1 (one, two)" in one_pair and "**Median ratio 2.00 ×**" in one_pair
