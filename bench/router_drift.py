"""In-process cost of the batch router per slice of records over one long run (no Kafka), and the GC's share.

Builds the router as the labeler does (warm model, drift monitor, dedupe window) and routes the throughput
benchmark's records in 2,000-record batches; per 10,000-record slice it prints CPU microseconds a record (the thread's CPU time: others' load does not count) and how
many of them the garbage collector's collections took (by generation: count, us a record).

    .venv/bin/python bench/router_drift.py --records 100000 [--dedupe 0] [--gc labeler|default|off] [--inputs both]

``--inputs both`` routes every batch twice, alternating, with two routers alike but for how the engine
builds the model's inputs: ``columnar`` (the default: the matrix from the features, column by column) and
``per-record`` (featurize -> feature matrix); it prints both costs per slice.

``--gc labeler`` (the default) tunes the collector as ``labelstream run labeler`` does
(``tune_garbage_collector``: ``gc.freeze()`` and a gen-0 threshold of 100,000); ``default`` leaves Python's.
"""

from __future__ import annotations

import argparse
import gc
import time

import orjson

from labelstream.bench.workload import BENCH_NOISE, synthetic_records, warm_state
from labelstream.core.build import build_engine
from labelstream.core.decode import RecordDecoder
from labelstream.core.dedupe import DedupeWindow
from labelstream.core.router import BatchRouter, Origin, OutputTopics
from labelstream.drift_handling import build_monitor
from labelstream.labeler.service import tune_garbage_collector
from labelstream.settings import Settings

BATCH = 2000
SLICE = 10_000


def build_router(settings: Settings, dedupe: int | None = None, columnar: bool = True) -> BatchRouter:
    """The router as the labeler builds it, with the benchmarks' warm model (``dedupe``: the window's size)."""
    state = warm_state(settings, noise=BENCH_NOISE)
    engine = build_engine(settings)
    engine.columnar = columnar
    engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
    engine.monitor = build_monitor(settings)
    window = settings.labeler.dedupe_window if dedupe is None else dedupe
    return BatchRouter(
        engine, RecordDecoder.from_limits(settings.limits), OutputTopics("labels", "review", "deferred", "dlq"),
        dedupe=DedupeWindow(window) if window else None,
    )


class GcTimer:
    """Count and time of the collector's runs by generation (a ``gc.callbacks`` hook)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.counts[info["generation"]] += 1
            self.seconds[info["generation"]] += time.thread_time() - self._started

    def take(self, records: int) -> str:
        text = " ".join(f"gen{g} {c:>3}x {s / records * 1e6:5.1f}" for g, (c, s) in enumerate(zip(self.counts, self.seconds, strict=True)))
        self.counts, self.seconds = [0, 0, 0], [0.0, 0.0, 0.0]
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dedupe", type=int, default=None, help="dedupe window size (default: the settings')")
    parser.add_argument("--gc", choices=("labeler", "default", "off"), default="labeler", help="the collector's tuning")
    parser.add_argument("--inputs", choices=("columnar", "per-record", "both"), default="columnar",
                        help="how the engine builds the model's inputs (both: alternating, batch by batch)")
    args = parser.parse_args()
    kinds = ["columnar", "per-record"] if args.inputs == "both" else [args.inputs]
    routers = [build_router(Settings(), args.dedupe, kind == "columnar") for kind in kinds]
    values = [orjson.dumps(p) for p, _ in synthetic_records(args.records, seed=3)]
    keys = [None] * len(values)
    origins = [Origin("records", 0, i, 0.0) for i in range(len(values))]
    gc.collect()
    if args.gc == "labeler":
        tune_garbage_collector()
    elif args.gc == "off":
        gc.disable()
    timer = GcTimer()
    slice_time = [0.0] * len(routers)
    for start in range(0, len(values), BATCH):
        end = start + BATCH
        for n, router in enumerate(routers):
            began = time.thread_time()
            router.route(values[start:end], keys[start:end], origins[start:end])
            slice_time[n] += time.thread_time() - began
        if end % SLICE == 0:
            costs = ", ".join(f"{kind} {t / SLICE * 1e6:6.1f}" for kind, t in zip(kinds, slice_time, strict=True))
            print(f"records {end - SLICE:>7}-{end:<7} us/record: {costs}  GC: {timer.take(SLICE * len(routers))}", flush=True)
            slice_time = [0.0] * len(routers)


if __name__ == "__main__":
    main()
