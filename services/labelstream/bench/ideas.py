"""Speed ideas for the hot path, each measured against what it would replace, side by side in one process.

``labelstream bench hot-path`` prints them under the stage table, so that an
idea that did not pay off stays on record with its figures (and anyone can
rerun it on another machine). Each idea: the current way, the alternative,
µs a record for both (best of several passes over the same 500 records), and
whether the labeler uses it.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

import msgspec
import numpy as np

from labelstream.core.compiled import feature_matrix
from labelstream.core.encode import encode_label, encode_labels
from labelstream.core.policy import Prediction
from labelstream.core.router import Origin
from labelstream.labeler.transactions import Transactions


@dataclass(frozen=True)
class Idea:
    name: str
    before: str
    after: str
    kept: bool
    why: str
    before_us: float = 0.0
    after_us: float = 0.0


def measure_ideas(raws: list[bytes], routed: list, compiled, xs: list[dict], timer: Callable[[Callable], float]) -> list[Idea]:
    """Each idea timed with ``timer`` (µs a record of a callable over the batch), before and after in turns."""
    ideas = []
    labels = [r for r in routed if r.decision.outcome == "label"] or routed
    ids, names, confidences = ([r.record.id for r in labels], [r.prediction.label or "" for r in labels],
                               [r.prediction.confidence for r in labels])
    share = len(labels) / len(routed)  # per record of the batch, as the stage table counts
    ideas.append(Idea(
        "encode auto-labels", "one orjson.dumps of a dict per label", "encode_labels: shared fields encoded once", True, "byte-identical output (tested)",
        *(us * share for us in _pair(
            timer,
            lambda: [encode_label(i, n, c, 1, "contract", 1.0) for i, n, c in zip(ids, names, confidences, strict=True)],
            lambda: encode_labels(ids, names, confidences, 1, "contract", 1.0),
        )),
    ))
    plain = msgspec.json.Decoder(dict)
    joined = b"\n".join(raws)
    ideas.append(Idea(
        "columnar decode", "msgspec decode per value", "one msgspec decode_lines call for the batch", False,
        "the C parse is the cost, not the call; one bad value (or a newline in one) sends the batch back to per-value decoding",
        *_pair(timer, lambda: [plain.decode(raw) for raw in raws], lambda: plain.decode_lines(joined)),
    ))
    ideas.append(Idea(
        "feature matrix", "a Python list per row, filled by column index", "rows grouped by key set, one NumPy scatter each", False,
        "a few % at best; a stream whose records vary in their keys makes one group per record and is slower",
        *_pair(timer, lambda: feature_matrix(compiled.index, xs), lambda: _rows_grouped(compiled.index, xs)),
    ))
    ideas.append(Idea(
        "predictions", "a dict of probabilities a row, then max() over it (Prediction.from_probabilities)",
        "NumPy's arg-max over the probability matrix (CompiledLogistic.predict_many)", True,
        "equal predictions, the first of equal maxima in class order as before (tested); a small gain (~0.3 µs, 7 %, in 200 alternating passes): building the Prediction objects is the cost",
        *_pair(timer, lambda: [Prediction.from_probabilities(p) for p in compiled.predict_proba_many(xs)],
               lambda: compiled.predict_many(xs)),
    ))
    ideas.append(Idea(
        "message origin", "a frozen dataclass a message", "a NamedTuple a message", True, "same fields, immutable",
        *_pair(timer, lambda: [_OriginDataclass("records", 1, i, 1.0) for i in range(len(raws))],
               lambda: [Origin("records", 1, i, 1.0) for i in range(len(raws))]),
    ))
    ideas.append(Idea(
        "feature matrix rows", "a Python list per row, filled by column index", "operator.itemgetter over the known columns "
        "(C), a get per column for a row that lacks one", False,
        "a one-hot categorical leaves all but one of its columns out of every row, so every row takes the fallback",
        *_pair(timer, lambda: feature_matrix(compiled.index, xs), lambda: _rows_itemgetter(compiled.index, xs)),
    ))
    ideas.append(_produce_idea(raws, timer))
    record_ids = [f"r{i}" for i in range(len(raws))]
    ideas.append(Idea(
        "dedupe window", "OrderedDict, popitem(last=False)", "dict + deque of ids", True, "same semantics (tested)",
        *_pair(timer, lambda: _window_ordered(record_ids), lambda: _window_deque(record_ids)),
    ))
    return ideas


class _Output(NamedTuple):
    topic: str
    key: bytes
    value: bytes


def _produce_idea(raws: list[bytes], timer: Callable[[Callable], float]) -> Idea:
    """Queueing a batch's outputs in the Kafka client: a method call a message, or one loop (no broker needed:
    the client queues what it cannot send yet; the queue is purged after each pass)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": "127.0.0.1:1", "linger.ms": 60_000, "log_level": 0,
                         "queue.buffering.max.messages": 1_000_000})
    wrapper = Transactions({"bootstrap.servers": "127.0.0.1:1"}, factory=lambda _config: producer)
    wrapper._producer = producer
    outputs = [_Output("labels", f"r{i}".encode(), raw) for i, raw in enumerate(raws)]

    def each() -> None:
        for output in outputs:  # as the loop did: its _produce, then Transactions.produce, a message
            _produce_one(wrapper, output)
        producer.purge()

    def many() -> None:
        wrapper.produce_many(outputs)
        producer.purge()

    before, after = _pair(timer, each, many)
    return Idea(
        "produce outputs", "a call a message: TransactionLoop._produce -> Transactions.produce -> produce(topic, value=, key=)",
        "Transactions.produce_many: one loop over the client's produce(topic, value, key)", True,
        "same messages in the same order; a message the fast call does not take goes the careful way (tested)",
        before, after,
    )


def _produce_one(wrapper: Transactions, output: _Output) -> _Output:
    wrapper.produce(output.topic, output.key, output.value)
    return output


def _rows_itemgetter(index: dict[str, int], xs: list[dict]) -> np.ndarray:
    """``index`` lists the columns in their order (as CompiledLogistic builds it)."""
    nan = math.nan
    get = itemgetter(*index)
    rows = []
    for x in xs:
        try:
            rows.append(get(x))
        except KeyError:
            rows.append([x.get(name, nan) for name in index])
    return np.array(rows, dtype=float).reshape(len(rows), len(index))


@dataclass(frozen=True, slots=True)
class _OriginDataclass:
    """What :class:`Origin` was before (a frozen dataclass)."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None = None


def columnar_ideas(decoder, raws: list[bytes], engine, records: list, timer: Callable[[Callable], float]) -> list[Idea]:
    """The router's batch decode and the engine's inputs built from the features, against the per-record ways."""
    featurizer, model = engine.featurizer, engine.model
    compiled = model.compiled_for(len(records))
    batch = [record.features for record in records]
    return [
        Idea(
            "decode a batch", "RecordDecoder.decode a value (the C fast path, then the checks, three calls)",
            "RecordDecoder.decode_plain_many: the C fast path of the batch in one loop (the rest as before)", True,
            "the same records (tests/core/test_router.py); the Record itself built through BaseModel's slot descriptors",
            *_pair(timer, lambda: [decoder.decode(raw) for raw in raws], lambda: decoder.decode_plain_many(raws)),
        ),
        Idea(
            "featurize + predict", "a model-input dict a record (Featurizer.transform_one), then a matrix row a dict",
            "the matrix from the features, a group of records with the same fields at a time (core/compiled_inputs.py); "
            "the inputs made only when the policy asks", True,
            "the same predictions to the bit (tests/core/test_compiled_inputs.py, test_router.py, test_engine.py)",
            *_pair(timer, lambda: compiled.predict_many(featurizer.transform_many(batch)),
                   lambda: compiled.predict_features(batch, featurizer.categorical_encoding, featurizer.hash_buckets)),
        ),
        _columnar_decode_idea(decoder, raws, featurizer, compiled, timer),
    ]


def _columnar_decode_idea(decoder, raws: list[bytes], featurizer, compiled, timer: Callable[[Callable], float]) -> Idea:
    """The router's decode and predict of a batch: a Record a value, then the matrix from their features, against the
    common layout decoded into columns (core/columnar.py)."""
    from labelstream.core.columnar import ColumnarBatch, ColumnarDecoder

    columnar = ColumnarDecoder(decoder)
    columnar.learn(decoder.decode(raws[0]))
    keys = [None] * len(raws)
    inputs = compiled.inputs(featurizer.categorical_encoding, featurizer.hash_buckets)

    def records() -> list:
        batch = [record.features for record in decoder.decode_plain_many(raws)]
        return compiled.predict_features(batch, featurizer.categorical_encoding, featurizer.hash_buckets)

    def columns() -> list:
        batch = ColumnarBatch(columnar.decode_many(raws, keys), raws, columnar)
        return compiled.predictions(compiled.probabilities_of(batch.matrix(inputs)))

    return Idea(
        "decode + predict", "a Record (and its features dict) a value (decode_plain_many), the matrix from the features",
        "the batch's common layout decoded by a msgspec struct made for it (a field a feature, typed as the exact path "
        "types it), the matrix from its columns; a Record made only when read (reviews, deferred), never for the "
        "auto-labels; anything else the exact way (core/columnar.py)", True,
        "outcomes byte-identical on mixed batches (tests/core/test_columnar.py)",
        *_pair(timer, records, columns),
    )


def decide_idea(policy, predictions: list, n_learned: int, xs: list[dict], timer: Callable[[Callable], float]) -> Idea:
    """The policy's batch decide against its per-record decide (the base class's loop), on the same policy."""
    from labelstream.core.policy.base import Policy

    return Idea(
        "decide", "the policy's decide, record by record", f"{type(policy).__name__}.decide_many: the batch worked out "
        "first (thresholds once, who reaches them in NumPy, boundary answers and audit draws in stream order), a run of "
        "plain auto-labels sharing one Decision a class, the other records decided in turn", True,
        "equal decisions, budget and random draws in the same order (tests/core/test_contract_decide_many.py)",
        *_pair(timer, lambda: Policy.decide_many(policy, predictions, n_learned, xs),
               lambda: policy.decide_many(predictions, n_learned, xs)),
    )


def drift_idea(monitor, predictions: list, decisions: list, records: list, timer: Callable[[Callable], float]) -> Idea:
    """The drift monitor fed the batch at once against record by record (two monitors of the same settings)."""
    one, batched = copy.deepcopy(monitor), copy.deepcopy(monitor)
    outcomes, timestamps = [d.outcome for d in decisions], [r.timestamp for r in records]

    def per_record() -> None:
        for prediction, outcome, timestamp in zip(predictions, outcomes, timestamps, strict=True):
            one.update_prediction(prediction, outcome, timestamp)

    return Idea(
        "drift monitor", "update_prediction a record: each detector's update in turn",
        "update_predictions: each detector fed its run of the batch in one loop (the window read on clock ticks only)",
        True, "the same detections in the same order (tests/core/test_drift.py, also against river.drift.ADWIN)",
        *_pair(timer, per_record, lambda: batched.update_predictions(predictions, outcomes, timestamps)),
    )


def _pair(timer: Callable[[Callable], float], before: Callable, after: Callable, turns: int = 3) -> tuple[float, float]:
    """(before, after) µs, timed in alternating turns (best of each), so that a burst of other work hits both."""
    best = [float("inf"), float("inf")]
    for _ in range(turns):
        best = [min(best[0], timer(before)), min(best[1], timer(after))]
    return best[0], best[1]


def _rows_grouped(index: dict[str, int], xs: list[dict]) -> np.ndarray:
    matrix = np.full((len(xs), len(index)), np.nan)
    groups: dict[tuple, tuple[list, list]] = {}
    for i, x in enumerate(xs):
        group = groups.get(key := tuple(x))
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(i)
        group[1].append(list(x.values()))
    for key, (rows, values) in groups.items():
        cols = [index.get(name, -1) for name in key]
        keep = [j for j, col in enumerate(cols) if col >= 0]
        block = np.array(values, dtype=float)[:, keep]
        matrix[np.array(rows)[:, None], np.array([cols[j] for j in keep])[None, :]] = block
    return matrix


def _window_ordered(ids: list[str], size: int = 100) -> None:
    places: OrderedDict[str, int] = OrderedDict()
    for i, record_id in enumerate(ids):
        if places.get(record_id) is None:
            places[record_id] = i
            if len(places) > size:
                places.popitem(last=False)


def _window_deque(ids: list[str], size: int = 100) -> None:
    places: dict[str, int] = {}
    order: deque[str] = deque()
    for i, record_id in enumerate(ids):
        if places.get(record_id) is None:
            places[record_id] = i
            order.append(record_id)
            if len(order) > size:
                del places[order.popleft()]


def ideas_markdown(ideas: list[Idea]) -> list[str]:
    lines = [
        "",
        "Ideas measured side by side (same records, same process; µs a record of the batch):",
        "",
        "| stage | way before | alternative | before | after | used |",
        "|---|---|---|---:|---:|---|",
    ]
    for idea in ideas:
        lines.append(
            f"| {idea.name} | {idea.before} | {idea.after} | {idea.before_us:.2f} | {idea.after_us:.2f} | "
            f"{'yes' if idea.kept else 'no'}: {idea.why} |"
        )
    return lines
