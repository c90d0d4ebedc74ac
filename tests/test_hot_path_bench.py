"""The hot-path benchmark's dedupe row times a full window: every new id evicts the oldest."""

from labelstream.bench.hot_path import dedupe_pass, full_window


def test_full_window_is_full_and_each_pass_evicts() -> None:
    window = full_window(64)
    assert window is not None and len(window) == 64
    batches = [[f"new-{n}-{i}" for i in range(10)] for n in range(2)]
    dedupe_pass(window, batches)
    assert len(window) == 64 and len(batches) == 1
    assert window.check("fill-10", ("records", 9, 9)) == ("records", 1, 10)  # still in the window
    assert window.check("new-1-0", ("records", 9, 9)) == ("records", 0, 0)  # the last batch was checked
    assert window.check("fill-9", ("records", 9, 9)) is None  # evicted: the 10 new ids pushed out fill-0..9


def test_no_window_when_dedupe_is_off() -> None:
    assert full_window(0) is None
    dedupe_pass(None, [["a"]])


def test_json_has_every_stage_and_idea_of_the_table(tmp_path) -> None:
    """``bench hot-path --json``: a script reads the same stages and ideas the Markdown shows, and --out still writes."""
    import json

    from typer.testing import CliRunner

    from labelstream.cli.main import app

    out = tmp_path / "B.md"
    result = CliRunner().invoke(app, ["bench", "hot-path", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    table = out.read_text()
    assert set(data["us_per_record"]) == {"decode + validate", "featurize + predict", "decide (policy)", "drift monitor",
                                          "dedupe window (full: evicts)", "encode outputs"}
    for stage, us in data["us_per_record"].items():
        assert f"| {stage} | {us:.2f} |" in table
    assert data["ideas"] and all(f"| {idea['name']} |" in table for idea in data["ideas"])
