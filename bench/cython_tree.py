#!/usr/bin/env python3
"""A copy of a ``services/`` tree with the pure core compiled by Cython (pure-Python mode), for counting.

The measurement behind BENCHMARKS.md's "Router per-record cost, fifth pass: compiled": every module of
``labelstream/core`` (policy, strategies and weak included, ``__init__`` files not) is compiled from the same
``.py`` file by Cython into an extension module next to it, which Python imports in place of the source. Two
modules are left as source: ``schemas.py`` (pydantic models: a compiled method reads as an unannotated field)
and ``policy/contract_evidence.py`` (Cython 3.3.1 rejects ``min([x, *xs])``). Annotations are not used as C types
(``annotation_typing=False``): with them, ``BatchRouter._process(records: list[Record])`` rejects the columnar
batch it is given, so the same code would not run. Not part of the package: Cython is not a dependency.

    .venv/bin/pip install cython==3.3.1
    nice -n 10 .venv/bin/python bench/cython_tree.py /tmp/cy              # git archive HEAD services, then compile
    nice -n 10 .venv/bin/python bench/router_instructions.py --records 10000 --code /tmp/cy/services
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

LEFT_AS_SOURCE = {"schemas.py", "contract_evidence.py"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="an empty or new folder: OUT/services is the compiled tree")
    parser.add_argument("--rev", default="HEAD", help="the revision whose services/ is compiled")
    parser.add_argument("--jobs", type=int, default=2, help="C compilations at once")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    args.out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", args.rev, "services"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(args.out)], input=archive, check=True)
    core = args.out / "services" / "labelstream" / "core"
    files = sorted(
        str(path.relative_to(args.out))
        for path in core.rglob("*.py")
        if path.name != "__init__.py" and path.name not in LEFT_AS_SOURCE
    )
    build = (
        "import sys\n"
        "from setuptools import setup\n"
        "from Cython.Build import cythonize\n"
        "setup(ext_modules=cythonize(sys.argv[2:], language_level=3, quiet=True,\n"
        "      compiler_directives={'binding': True, 'annotation_typing': False}),\n"
        "      script_args=['build_ext', '--inplace', '-j', sys.argv[1]], package_dir={'': 'services'})\n"
    )
    subprocess.run(
        [sys.executable, "-c", build, str(args.jobs), *files],
        cwd=args.out,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"{len(files)} modules compiled into {args.out / 'services'}")


if __name__ == "__main__":
    main()
