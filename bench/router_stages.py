#!/usr/bin/env python3
"""Instructions a record of each stage of the batch router, counted by valgrind (callgrind's dumps).

The router of ``bench/router_instructions.py`` (same records, same warm state, same 500-record batches) is run
once under ``valgrind --tool=callgrind --dump-before=os_getppid``; each stage function is wrapped so that a call
of ``os.getppid`` marks its entry and exit, and callgrind dumps its counters there. Each dump is the cost since
the previous mark, charged to the innermost stage running then (a nested stage's cost is not in its caller's
row). Only the measured records' batches are marked; the wrappers' own cost (~2 marks a stage a batch) is
spread over the rows. The rows' sum is the router's instructions a record, up to that overhead.

    nice -n 10 .venv/bin/python bench/router_stages.py --records 4000
    nice -n 10 .venv/bin/python bench/router_stages.py --records 4000 --code /tmp/before/services
    # then, for the C functions under it: callgrind_annotate --inclusive=yes OUT (any dump file, or
    # bench/router_instructions.py --keep)

Stage names are the functions wrapped (see ``STAGES``); "route (glue)" is the router's own lines outside
them, "outcomes freed" is the freeing of a routed batch's outcomes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from router_instructions import BATCH, WARM, prepare, routing  # noqa: E402

STAGES = [  # (module, owner (None: a module function), attribute, row)
    ("labelstream.core.router", "BatchRouter", "_decode_many", "decode: rest of _decode_many"),
    ("labelstream.core.columnar", "ColumnarDecoder", "decode_many", "decode: columnar structs (msgspec)"),
    ("labelstream.core.decode", "RecordDecoder", "decode_plain_many", "decode: exact records (decode_plain_many)"),
    ("labelstream.core.dedupe", "DedupeWindow", "check_many", "dedupe check_many"),
    ("labelstream.core.engine", "LabelingEngine", "process", "engine.process (glue)"),
    ("labelstream.core.columnar", "ColumnarBatch", "matrix", "matrix: ColumnarBatch.matrix (glue)"),
    ("labelstream.core.columnar", "ColumnarDecoder", "columns", "matrix: columns (attrgetter a struct)"),
    ("labelstream.core.compiled_inputs", "InputMatrix", "fill", "matrix: InputMatrix.fill (NumPy)"),
    ("labelstream.core.compiled", "CompiledLogistic", "probabilities_of", "predict: probabilities (NumPy)"),
    ("labelstream.core.compiled", "CompiledLogistic", "predictions", "predict: RowPrediction a row"),
    ("labelstream.core.policy.contract", "ContractPolicy", "decide_many", "decide_many (batch part)"),
    ("labelstream.core.policy.contract", "_BatchRouting", "auto_labels", "decide: plain auto-label runs"),
    ("labelstream.core.policy.contract", "_BatchRouting", "decide", "decide: other records one by one"),
    ("labelstream.core.engine", "LabelingEngine", "_monitor_batch", "drift monitor"),
    ("labelstream.core.columnar", "ColumnarBatch", "routed", "Routed a record (LazyRouted)"),
    ("labelstream.core.router", None, "_all_finite", "finite check"),
    ("labelstream.core.columnar", "ColumnarBatch", "make", "Records of reviews/deferrals (make)"),
    ("labelstream.core.router", "BatchRouter", "_encode_one", "encode reviews/deferrals (_encode_one)"),
    ("labelstream.core.router", "BatchRouter", "_encode_labels", "auto-labels: Outcome a record (_encode_labels)"),
    ("labelstream.core.router", None, "encode_labels", "auto-labels: encode_labels (bytes)"),
]


def stages(path: Path, records: int, labels_file: Path) -> None:
    """Route as ``router_instructions.route`` does, with a mark at every wrapped stage's entry and exit."""
    import importlib

    stack = ["route (glue)"]
    labels: list[str] = []
    active = [False]
    getppid = os.getppid

    def mark() -> None:
        if active[0]:
            labels.append(stack[-1])
            getppid()

    def wrap(function: Any, row: str) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            mark()
            stack.append(row)
            try:
                return function(*args, **kwargs)
            finally:
                mark()
                stack.pop()
        return wrapped

    for module_name, owner_name, attribute, row in STAGES:
        module = importlib.import_module(module_name)
        owner = module if owner_name is None else getattr(module, owner_name)
        setattr(owner, attribute, wrap(getattr(owner, attribute), row))

    router, values, origins, keys = routing(path)
    for start in range(0, WARM + records, BATCH):
        active[0] = start >= WARM
        mark()  # the interval before: the loop's own lines
        outcomes = router.route(values[start:start + BATCH], keys[start:start + BATCH], origins[start:start + BATCH])
        stack.append("outcomes freed")
        mark()
        del outcomes
        mark()
        stack.pop()
    active[0] = False
    labels_file.write_text("\n".join(labels))


def _dump_total(path: Path) -> int:
    text = path.read_text(errors="replace")
    match = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4_000, help="measured records (after 4,000 warm-up ones)")
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parent.parent / "services",
                        help="the services/ tree whose router is counted")
    parser.add_argument("--route", type=Path, help=argparse.SUPPRESS)  # the run valgrind watches
    parser.add_argument("--labels", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.route is not None:
        stages(args.route, args.records, args.labels)
        return
    with tempfile.TemporaryDirectory() as tmp:
        state, labels_file, out = Path(tmp) / "state.pkl", Path(tmp) / "labels", Path(tmp) / "out"
        prepare(state, args.records)
        subprocess.run(  # noqa: S603
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-before=os_getppid",
             sys.executable, __file__, "--route", str(state), "--records", str(args.records), "--labels", str(labels_file)],
            env={**os.environ, "PYTHONPATH": str(args.code)}, capture_output=True, text=True, errors="replace", check=True,
        )
        labels = labels_file.read_text().splitlines()
        # dump k (1-based, out.k) holds the cost up to the k-th os_getppid call: the interval before mark k
        totals: dict[str, int] = defaultdict(int)
        for k, row in enumerate(labels, start=1):
            if k == 1:
                continue  # set-up and warm-up, up to the first mark
            totals[row] += _dump_total(Path(f"{out}.{k}"))
    width = max(map(len, totals))
    print(f"{args.code}: instructions a record by stage ({args.records} records after {WARM} warm-up)")
    for row, total in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {row:<{width}} {total / args.records:>9,.0f}")
    print(f"  {'total':<{width}} {sum(totals.values()) / args.records:>9,.0f}")


if __name__ == "__main__":
    main()
