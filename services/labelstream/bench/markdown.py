"""Write a benchmark's section of BENCHMARKS.md, replacing the previous run of the same benchmark.

>>> text = replace_section("# Benchmarks\\n", "speed", "figures v1")
>>> text = replace_section(text, "speed", "figures v2")
>>> "figures v1" in text, text.count("bench:speed:start")
(False, 1)
"""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmarks\n\nEvery figure below was written by the command shown with it.\n"


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        return before + block + rest.split(end, 1)[1]
    return text.rstrip() + "\n\n" + block + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    text = path.read_text() if path.exists() else HEADER
    path.write_text(replace_section(text, name, body))
