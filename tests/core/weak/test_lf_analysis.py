"""Streaming LF analysis: coverage, overlap, conflict, empirical accuracy, and its state."""

from labelstream.core.weak.analysis import LFAnalysis


def test_state_round_trip_and_unknown_names_are_ignored():
    analysis = LFAnalysis(["a", "b"])
    analysis.observe([("x", "y"), ("x", None), (None, None)])
    analysis.observe_answer(("x", "y"), "x")
    copy = LFAnalysis(["b", "a", "c"])
    copy.load_state(analysis.state())
    assert copy.summary()["a"] == analysis.summary()["a"]
    assert copy.summary()["b"] == analysis.summary()["b"]
    assert copy.summary()["c"]["coverage"] == 0.0 and copy.summary()["c"]["empirical_accuracy"] is None


def test_nothing_seen_gives_none_not_zero():
    row = LFAnalysis(["a"]).summary()["a"]
    assert row["coverage"] is None and row["empirical_accuracy"] is None
