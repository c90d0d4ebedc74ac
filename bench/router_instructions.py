#!/usr/bin/env python3
"""Instructions a record of the batch router, counted by valgrind: a cost that others' load does not change.

On a shared 2-core machine records/s and even CPU time swing with what else runs; the number of
instructions the router executes does not. This routes the throughput benchmark's records through the
router as the labeler builds it (warm model, drift monitor, dedupe window, the labeler's GC tuning), in
500-record batches after 4,000 warm-up records, twice under ``valgrind --tool=callgrind``: once with no
measured records and once with ``--records``; the difference over ``--records`` is the router's
instructions a record (interpreter, NumPy and msgspec included; import and set-up cancel out).

    .venv/bin/python bench/router_instructions.py --records 10000                # the tree in services/
    .venv/bin/python bench/router_instructions.py --records 10000 --code /tmp/before/services   # another tree
        # (git archive REV services | tar -x -C /tmp/before: compare two revisions on the same warm state)
    .venv/bin/python bench/router_instructions.py --records 10000 --stage inputs   # InputMatrix.build only
    .venv/bin/python bench/router_instructions.py --records 5000 --stage handler   # the labeler's handler a batch
        # (RoutingHandler.route on Messages, prepare + Redis, offsets, committed, the batch freed; env sourced)

About 5-10 minutes on this machine (valgrind runs ~50x slower); run it niced. Instructions are not time
(a cache miss costs more than an add), but a change that removes Python work removes instructions.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BATCH = 500
WARM = 4_000


def prepare(path: Path, records: int) -> None:
    """The warm model state and the encoded records, pickled (so that valgrind does not train the model)."""
    import orjson

    from labelstream.bench.workload import BENCH_NOISE, synthetic_records, warm_state
    from labelstream.settings import Settings

    state = warm_state(Settings(), noise=BENCH_NOISE)
    values = [orjson.dumps(payload) for payload, _ in synthetic_records(WARM + records, seed=3)]
    path.write_bytes(pickle.dumps((state, values)))


def build_inputs(path: Path, records: int) -> None:
    """``--stage inputs``: only the compiled model's input matrix (``InputMatrix.build``) of each batch's features."""
    from labelstream.core.compiled import CompiledLogistic
    from labelstream.core.compiled_inputs import InputMatrix
    from labelstream.core.decode import RecordDecoder
    from labelstream.settings import Settings

    state, values = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, written by prepare()
    decoder = RecordDecoder.from_limits(Settings().limits)
    features = [decoder.decode(value).features for value in values]
    inputs = InputMatrix(CompiledLogistic.from_pipeline(state.model.estimator).index)
    for start in range(0, WARM + records, BATCH):
        inputs.build(features[start:start + BATCH])


def _router(path: Path) -> tuple[Any, Any, list[bytes]]:
    """The settings, a BatchRouter on the prepared warm model (drift monitor and full dedupe window as live), and
    the prepared values."""
    from labelstream.core.build import build_engine
    from labelstream.core.decode import RecordDecoder
    from labelstream.core.dedupe import DedupeWindow
    from labelstream.core.router import BatchRouter, OutputTopics
    from labelstream.drift_handling import build_monitor
    from labelstream.settings import Settings

    state, values = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, written by prepare()
    settings = Settings()
    engine = build_engine(settings)
    engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
    engine.monitor = build_monitor(settings)
    router = BatchRouter(engine, RecordDecoder.from_limits(settings.limits), OutputTopics("labels", "review", "deferred", "dlq"),
                         dedupe=DedupeWindow(settings.labeler.dedupe_window))
    return settings, router, values


def routing(path: Path) -> tuple[Any, list[bytes], list[Any], list[None]]:
    """The router with its values, their origins and keys, the collector tuned as the labeler tunes it."""
    import gc

    from labelstream.core.router import Origin
    from labelstream.labeler.service import tune_garbage_collector

    _settings, router, values = _router(path)
    origins = [Origin("records", 0, i, 0.0) for i in range(len(values))]
    keys = [None] * len(values)
    gc.collect()
    tune_garbage_collector()
    return router, values, origins, keys


def route(path: Path, records: int) -> None:
    """Warm up, then route ``records`` records (the part valgrind's two runs differ by)."""
    router, values, origins, keys = routing(path)
    for start in range(0, WARM + records, BATCH):
        router.route(values[start:start + BATCH], keys[start:start + BATCH], origins[start:start + BATCH])


def handle(path: Path, records: int) -> None:
    """``--stage handler``: what the labeler's loop asks of its handler a batch, on ``confluent_kafka`` Messages made
    here (3 partitions, timestamped, keyed by id): ``RoutingHandler.route`` (its Message getters and the router),
    ``prepare`` and its wait (the records to store, put in Redis: ``LABELSTREAM_REDIS__URL``), the batch's offsets,
    ``committed`` (counts, metrics), then the batch freed. Not produced (no broker); drift reactions left out."""
    import gc

    import orjson
    from confluent_kafka import Message

    from labelstream.labeler.batch import next_offsets
    from labelstream.labeler.handler import RoutingHandler
    from labelstream.labeler.service import tune_garbage_collector
    from labelstream.metrics import Metrics
    from labelstream.store.connection import redis_client
    from labelstream.store.records import RecordStore

    class NoDrift:
        def handle(self, engine: object) -> None:
            return None

    settings, router, values = _router(path)
    store = RecordStore(redis_client(settings.redis), f"instructions-{os.getpid()}", 60)
    handler = RoutingHandler(router, store, Metrics.from_settings("labeler", settings.metrics), NoDrift())
    keys = [orjson.loads(value)["id"].encode() for value in values]  # every value's, in both runs: cancels out
    gc.collect()
    tune_garbage_collector()
    for start in range(0, WARM + records, BATCH):
        messages = [Message(topic="records", partition=i % 3, offset=i // 3, key=keys[i], value=values[i],
                            timestamp=(1, 1_764_500_000_000 + i)) for i in range(start, min(start + BATCH, WARM + records))]
        outputs = handler.route(messages)
        handler.prepare(outputs)()
        next_offsets(messages)
        handler.committed(messages, outputs, 0.05)
        del messages, outputs
    handler.close()


def instructions(code: Path, state: Path, records: int, stage: str = "router", keep: Path | None = None) -> int:
    """valgrind's count of instructions of one ``route`` (or ``build_inputs``) run with the package in ``code``;
    its callgrind output kept as ``keep`` when given (read it with ``callgrind_annotate --inclusive=yes``)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryDirectory() as tmp:
        out = keep if keep is not None else Path(tmp) / "out"
        done = subprocess.run(  # noqa: S603
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__, "--route",
             str(state), "--records", str(records), "--stage", stage],
            env=env, capture_output=True, text=True, errors="replace", check=True,
        )
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="measured records (after 4,000 warm-up ones)")
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parent.parent / "services",
                        help="the services/ tree whose router is counted")
    parser.add_argument("--stage", choices=["router", "inputs", "handler"], default="router",
                        help="inputs: count only InputMatrix.build of each batch (less noise than the whole router); "
                             "handler: the labeler's handler a batch (route, store, offsets, counts; Redis needed)")
    parser.add_argument("--keep", type=Path, help="keep the callgrind outputs as KEEP.0 (no measured records) and "
                        "KEEP.N (N records): callgrind_annotate --inclusive=yes KEEP.N, or both to subtract")
    parser.add_argument("--route", type=Path, help=argparse.SUPPRESS)  # the run valgrind watches
    args = parser.parse_args()
    if args.route is not None:
        {"inputs": build_inputs, "handler": handle, "router": route}[args.stage](args.route, args.records)
        return
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.pkl"
        prepare(state, args.records)
        base, measured = (instructions(args.code, state, n, args.stage,
                                       None if args.keep is None else Path(f"{args.keep}.{n}"))
                          for n in (0, args.records))
    print(f"{args.code} ({args.stage}): {(measured - base) / args.records:,.0f} instructions a record "
          f"({measured:,} with {args.records} records, {base:,} without)")


if __name__ == "__main__":
    main()
