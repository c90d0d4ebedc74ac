"""The code passes ruff (import order, pyflakes, bugbear; settings in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

from stack_support import REPO


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "services", "tests", "bench"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
