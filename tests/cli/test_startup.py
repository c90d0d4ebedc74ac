"""The CLI starts light: ``--help``, ``--version`` and argument errors load no model, Kafka, Redis or HTTP library.

Every command pays its module imports at start-up, and the test suite starts
the CLI hundreds of times: river alone (with scipy) took 1-3 s a process here.
The commands import what they need in their bodies; this test fails when a
module-level import drags a heavy library back into ``labelstream --help``.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("river", "scipy", "numpy", "sklearn", "confluent_kafka", "faust", "redis", "httpx", "fastapi",
         "pydantic_settings")

PROBE = """
import contextlib, io, json, sys
from labelstream.cli.main import main
sys.argv = ["labelstream", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> list[str]:
    """The heavy top-level packages a ``labelstream ARGS`` process has imported when it exits."""
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                            check=False, timeout=120)
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_help_version_and_usage_errors_import_no_heavy_library():
    assert loaded_by("--help") == []
    assert loaded_by("--version") == []
    assert loaded_by("run", "reviewer-sim", "--help") == []
    assert loaded_by("produce", "--no-such-option") == []


def test_listing_the_datasets_imports_no_heavy_library():
    """``datasets list`` reads the specs; river loads only when a stream is made (``datasets export``)."""
    assert loaded_by("datasets", "list") == []
    assert loaded_by("datasets", "list", "--json") == []
