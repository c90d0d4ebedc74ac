"""The throughput benchmark's arithmetic: routing shares from metrics, medians of within-round ratios."""

from labelstream.bench.throughput import median_ratio, median_run, routing_shares

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
