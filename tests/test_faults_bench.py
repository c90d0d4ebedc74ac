"""``bench/faults.py --render`` writes RELIABILITY.md only from the figures of a passing run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def render(report_dir: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / "faults.py"), "--render", str(report_dir), "--out", str(out)],
                          capture_output=True, text=True, check=False, timeout=60)


def test_render_of_a_failed_or_partial_run_writes_nothing(tmp_path):
    out = tmp_path / "RELIABILITY.md"
    out.write_text("earlier figures\n")
    partial = tmp_path / "figures"
    partial.mkdir()
    # what a run that failed after its crash scenario leaves: that scenario's figures, no run.json
    (partial / "crash_recovery.json").write_text("{}")
    result = render(partial, out)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "run.json, rebalance.json" in result.stderr
    assert out.read_text() == "earlier figures\n"
