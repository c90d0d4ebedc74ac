"""deploy/debian-packages.txt is well formed and deploy/debian-packages.sh reads it and finds what is missing."""

from __future__ import annotations

import re
import subprocess

from stack_support import REPO

LIST = REPO / "deploy" / "debian-packages.txt"
SCRIPT = REPO / "deploy" / "debian-packages.sh"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=60)


def test_every_line_is_one_package_with_a_reason() -> None:
    for number, line in enumerate(LIST.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, why = line.partition("#")
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name.strip()), f"line {number}: {line!r} is not one package name"
        assert why.strip(), f"line {number}: {name.strip()} has no `# why` comment"


def test_script_lists_the_packages_of_the_file() -> None:
    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    expected = [line.partition("#")[0].strip() for line in LIST.read_text().splitlines()]
    assert listed.stdout.split() == [name for name in expected if name]
    assert {"redis-server", "prometheus"} <= set(listed.stdout.split())


def test_check_names_the_missing_packages_only() -> None:
    result = run("check", "dpkg", "labelstream-no-such-package")
    assert result.returncode == 1
    assert result.stdout.split() == ["labelstream-no-such-package"]
    assert run("check", "dpkg").returncode == 0


def test_the_packages_the_tests_need_are_installed() -> None:
    """`make test` installs them first; running pytest by hand on a machine without them says what to do."""
    result = run("check")
    assert result.returncode == 0, f"missing Debian packages: {result.stdout.split()}; run `make packages`"
