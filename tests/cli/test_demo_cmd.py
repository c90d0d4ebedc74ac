"""``labelstream demo`` piped: plain progress lines, not a live view nobody sees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def _children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (from /proc: no psutil here)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.integration
def test_sigterm_stops_the_demo_and_every_service_it_started(cli_env):
    """As Ctrl-C does. Before, SIGTERM (kill, timeout) ended the demo at once and left its labeler, learner and
    reviewer running, orphaned."""
    services: set[int] = set()
    demo = subprocess.Popen([sys.executable, "-m", "labelstream", "demo", "--oracle", "--dataset", "phishing", "--rate", "5"],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while len(services := _children(demo.pid)) < 3 and time.monotonic() < deadline and demo.poll() is None:
            time.sleep(0.5)
        assert len(services) >= 3, demo.stderr.read() if demo.poll() is not None else services  # labeler, learner, reviewer
        time.sleep(2)
        demo.send_signal(signal.SIGTERM)
        demo.wait(60)
        deadline = time.monotonic() + 30
        while (running := [pid for pid in services if _alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not running, f"still running after the demo stopped: {running}"
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in services:  # a failed run leaves no orphans behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
