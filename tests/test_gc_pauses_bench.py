"""``bench/gc_pauses.py`` reads a JVM's gc and safepoint log (the lines JDK 17 writes) within a time window."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LOG = """\
[2026-12-02T18:00:00.100+0000][0.096s] Using G1
[2026-12-02T18:00:01.000+0000][1.000s] GC(0)   Evacuate Collection Set: 30.2ms
[2026-12-02T18:00:01.000+0000][1.000s] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 12M->4M(258M) 34.803ms
[2026-12-02T18:00:01.000+0000][1.000s] Safepoint "G1CollectForAllocation", Time since last: 87298189 ns, \
Reaching safepoint: 6062 ns, Cleanup: 6522 ns, At safepoint: 34872154 ns, Total: 34884738 ns
[2026-12-02T18:00:05.000+0000][5.000s] GC(1) Pause Remark 200M->190M(300M) 20.000ms
[2026-12-02T18:00:05.000+0000][5.000s] Safepoint "G1PauseRemark", Time since last: 1 ns, Reaching safepoint: 1000 ns, \
Cleanup: 0 ns, At safepoint: 19999000 ns, Total: 20000000 ns
[2026-12-02T18:00:09.000+0000][9.000s] Safepoint "Cleanup", Time since last: 1 ns, Reaching safepoint: 1000 ns, \
Cleanup: 0 ns, At safepoint: 99000 ns, Total: 100000 ns
[2026-12-02T18:00:30.000+0000][30.00s] GC(2) Pause Mark Start 0.017ms
"""


def test_pauses_and_safepoints_in_the_window(tmp_path):
    log = tmp_path / "gc.log"
    log.write_text(LOG)
    result = subprocess.run([sys.executable, str(REPO / "bench" / "gc_pauses.py"), str(log),
                             "--since", "2026-12-02T18:00:00", "--until", "2026-12-02T18:00:10"],
                            capture_output=True, text=True, check=True, timeout=60)
    lines = result.stdout.splitlines()
    assert lines[0] == "gc.log 18:00:00-18:00:10 (10 s)"
    assert lines[1].startswith("  safepoints (STW, reach + at): 3 (0.30/s), p50 20.0 p90 34.9 max 34.9 ms")
    assert "{'G1CollectForAllocation': 1, 'G1PauseRemark': 1}" in lines[1]  # the 0.1 ms clean-up is under 1 ms
    assert lines[2:] == ["  Pause Remark: 1 (0.10/s), p50 20.0 p90 20.0 max 20.0 ms, 0.20 % of the time",
                         "  Pause Young: 1 (0.10/s), p50 34.8 p90 34.8 max 34.8 ms, 0.35 % of the time"]
