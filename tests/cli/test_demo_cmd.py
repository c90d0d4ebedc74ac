"""``labelstream demo`` piped: plain progress lines, not a live view nobody sees."""

from __future__ import annotations

from labelstream.cli import demo_cmd
from labelstream.simulate.via_kafka import Progress


def test_piped_progress_is_a_header_then_a_row_every_ten_seconds_and_one_when_all_is_routed(capsys):
    show = demo_cmd._progress_lines(total=4000)
    for elapsed, routed in ((0.0, 0), (4.0, 150), (9.9, 390), (10.0, 400), (15.0, 600), (20.5, 820), (99.0, 4000),
                            (100.0, 4000), (120.0, 4000)):
        show(Progress(elapsed=elapsed, routed=routed, auto=routed // 2, auto_correct=routed // 2, reviews=300,
                      answered=280, deferred=10, model_version=7, records_per_second=40.0))
    header, *rows = capsys.readouterr().err.splitlines()
    assert header.split() == ["routed", "rec/s", "auto", "precision", "queue", "answered", "deferred", "model"]
    assert [row.split()[0] for row in rows] == ["0/4000", "400/4000", "820/4000", "4000/4000", "4000/4000"]
    assert rows[1].split() == ["400/4000", "40", "0.50", "1.000", "20", "280", "10", "7"]
    assert {len(row) for row in rows} == {len(header)} and len(header) <= 80  # aligned columns, 80 wide at most
