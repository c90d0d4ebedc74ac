"""Per-record cost of each stage of the labeler's hot path, in process (no Kafka): what bounds its throughput.

Times each stage on the throughput benchmark's records with a warm model and
the default policy, the best of several passes over one 500-record batch.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import orjson

from labelstream.bench.ideas import Idea, columnar_ideas, decide_idea, drift_idea, ideas_markdown, measure_ideas
from labelstream.bench.workload import BENCH_NOISE, synthetic_records, warm_state
from labelstream.core.build import build_engine
from labelstream.core.compiled import CompiledLogistic
from labelstream.core.decode import RecordDecoder
from labelstream.core.dedupe import DedupeWindow
from labelstream.core.encode import encode_labels, encode_review
from labelstream.core.featurizer import LazyInputs
from labelstream.drift_handling import build_monitor
from labelstream.settings import Settings

BATCH = 500


def best_microseconds_per_record(work: Callable[[], Any], repeats: int = 15) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best / BATCH * 1e6


def encode_outputs(routed: list, raws: list[bytes]) -> list[bytes]:
    """What the router encodes: the auto-labels in bulk, the other outcomes one by one."""
    labels = [r for r in routed if r.decision.outcome == "label"]
    out = encode_labels([r.record.id for r in labels], [r.prediction.label or "" for r in labels],
                        [r.prediction.confidence for r in labels], 1, "contract", 1.0)
    for r, raw in zip(routed, raws, strict=True):
        if r.decision.outcome != "label":
            out.append(encode_review(raw, r.record.id, r.prediction.label, r.prediction.probabilities, r.decision.reason, 0.0, 1.0, 1, 1.0))
    return out


def full_window(size: int) -> DedupeWindow | None:
    """A window of ``size`` ids already full, as live after its first ``size`` records: each new id evicts the oldest
    (``None`` when dedupe is off)."""
    if not size:
        return None
    window = DedupeWindow(size)
    for offset in range(size):
        window.check(f"fill-{offset}", ("records", 1, offset))
    return window


def dedupe_pass(window: DedupeWindow | None, batches: list[list[str]]) -> None:
    """The router's dedupe check on a batch of new ids: each pass takes the next batch of ids none seen before
    (one full window of the configured size for all passes, so every check also evicts the oldest id)."""
    if window is not None:
        for offset, record_id in enumerate(batches.pop()):
            window.check(record_id, ("records", 0, offset))


def hot_path_costs(settings: Settings) -> dict[str, float]:
    """Stage -> microseconds a record."""
    return hot_path_measure(settings)[0]


def hot_path_measure(settings: Settings) -> tuple[dict[str, float], list[Idea]]:
    """Stage -> microseconds a record, and the speed ideas measured side by side."""
    state = warm_state(settings, noise=BENCH_NOISE)
    engine = build_engine(settings)
    engine.swap_model(state.model, state.featurizer, state.policy_state, state.version)
    engine.monitor = build_monitor(settings)
    decoder = RecordDecoder.from_limits(settings.limits)
    raws = [orjson.dumps(payload) for payload, _ in synthetic_records(BATCH, seed=3)]
    records = [decoder.decode(raw) for raw in raws]
    xs = engine.featurizer.transform_many([r.features for r in records])
    predictions = engine._predict(xs)
    columnar = engine._predict_columnar(records) is not None
    batch = [r.features for r in records]

    def policy_inputs() -> list[dict] | LazyInputs:
        """What the engine gives the policy: on the columnar path the inputs made only when asked for (fresh)."""
        return LazyInputs(engine.featurizer, batch) if columnar else xs

    decisions = engine.policy.decide_many(predictions, engine.model.n_learned, xs)
    routed = engine.process(records)
    window = full_window(settings.labeler.dedupe_window)
    id_batches = [[f"{r.id}-pass{n}" for r in records] for n in range(15)]
    gc.freeze()
    costs = {
        "decode + validate": best_microseconds_per_record(lambda: decoder.decode_plain_many(raws)),
        "featurize + predict": best_microseconds_per_record(lambda: engine._predict_columnar(records)),
        "decide (policy)": best_microseconds_per_record(
            lambda: engine.policy.decide_many(predictions, engine.model.n_learned, policy_inputs())),
        "drift monitor": best_microseconds_per_record(lambda: engine._monitor_batch(records, predictions, decisions)),
        "dedupe window (full: evicts)": best_microseconds_per_record(lambda: dedupe_pass(window, id_batches)),
        "encode outputs": best_microseconds_per_record(lambda: encode_outputs(routed, raws)),
    }
    model = engine.model
    compiled = model._compiled or CompiledLogistic.from_pipeline(model.estimator)
    ideas = measure_ideas(raws, routed, compiled, xs, best_microseconds_per_record)
    ideas += columnar_ideas(decoder, raws, engine, records, best_microseconds_per_record)
    ideas.append(decide_idea(engine.policy, predictions, engine.model.n_learned, xs, best_microseconds_per_record))
    if engine.monitor is not None:
        ideas.append(drift_idea(engine.monitor, predictions, decisions, records, best_microseconds_per_record))
    return costs, ideas


def hot_path_markdown(
    costs: dict[str, float], machine: dict[str, Any], throughput: float | None = None, ideas: list[Idea] | None = None
) -> str:
    lines = [
        "## Hot path: cost of each stage",
        "",
        f"`labelstream bench hot-path` — {machine['date']}, {machine['machine']}, {machine['cpus']} CPUs, Python {machine['python']}. "
        "In process, no Kafka: best of 15 passes over a 500-record batch of the throughput benchmark's records, warm model, default policy; "
        "the dedupe window full before its row is timed (new ids, each evicting the oldest, as live once a window's worth was routed).",
        "",
        "| stage | µs / record |",
        "|---|---:|",
    ]
    lines += [f"| {stage} | {us:.2f} |" for stage, us in costs.items()]
    total = sum(costs.values())
    lines += [f"| **total (Python, one core)** | **{total:.2f}** |", ""]
    lines.append(
        f"At {total:.1f} µs a record the Python stages alone allow at most {1e6 / total:,.0f} records/s on one core, "
        "before the Kafka client (fetch, produce, transaction commits) and the Redis writes of reviewed and deferred records."
    )
    if ideas:
        lines += ideas_markdown(ideas)
    return "\n".join(lines)
