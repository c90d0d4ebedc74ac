"""A time-bounded atheris run over the decoders, seeded with valid and near-valid messages: no crash.

CI fuzzes for ``LABELSTREAM_FUZZ_SECONDS`` (15 s: ~3x10^5 inputs even under load; a fixed run count took
135 s on CI, mostly atheris instrumenting every imported module, now only ``labelstream``'s); ``LABELSTREAM_FUZZ_RUNS`` asks for a number of inputs instead (a deep run by hand).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fault_harness import write_figures

pytestmark = pytest.mark.faults

FUZZ_RUNS = int(os.environ.get("LABELSTREAM_FUZZ_RUNS") or 0)
FUZZ_SECONDS = int(os.environ.get("LABELSTREAM_FUZZ_SECONDS") or 15)
MIN_RUNS = 1_000  # the fuzzer really ran, even on a machine under heavy load
SEEDS = [
    b'{"id": "r1", "features": {"x": 1.5, "colour": "red"}, "text": "t", "source": "s", "timestamp": 1.0}',
    b'{"id": "r1", "features": {"x": 1}, "metadata": {"m": null}}',
    b'{"id": "r1", "label": "spam", "reviewer": "ana", "note": "n", "timestamp": 1.0}',
    b'{"id": "r1", "features": {"x": NaN}}',
    b'{"id": "r1", "features": {"x": [1, {"y": 2}]}}',
]


def test_fuzzing_the_decoders_finds_no_crash(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed{i}").write_bytes(b"\x00" + seed)  # first byte: no key
    script = Path(__file__).with_name("fuzz_decode.py")
    bound = f"-runs={FUZZ_RUNS}" if FUZZ_RUNS else f"-max_total_time={FUZZ_SECONDS}"
    result = subprocess.run(
        [sys.executable, str(script), bound, "-max_len=4096", "-seed=6", "-timeout=10", str(corpus)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    done = re.search(r"Done (\d+) runs in (\d+) second", output)
    assert done, output[-2000:]
    runs = int(done.group(1))
    assert runs >= (FUZZ_RUNS or MIN_RUNS), runs
    print(f"atheris: {runs} inputs, 0 crashes, {done.group(2)} s")
    write_figures("fuzz", {"fuzz_inputs": runs, "crashes": 0, "seconds": int(done.group(2))})
