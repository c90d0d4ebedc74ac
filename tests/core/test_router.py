"""The batch router: the same outcomes as the per-record engine path, and no record can fail its batch."""

from __future__ import annotations

import copy
import hashlib
import math
import random
import types

import orjson
import pytest

from labelstream.bench.workload import synthetic_records, warm_state
from labelstream.core import router as router_module
from labelstream.core.build import build_engine
from labelstream.core.decode import DecodeError, RecordDecoder
from labelstream.core.engine import Routed
from labelstream.core.policy.base import Decision, Policy, Prediction
from labelstream.core.router import DEAD_LETTER, BatchRouter, Origin, OutputTopics
from labelstream.core.schemas import DeadLetter, Deferred, Label, ReviewRequest
from labelstream.settings import load_settings

TOPICS = OutputTopics("labels", "review", "deferred", "dlq")
MAX_FLOAT = 1.7976931348623157e308


def engine_pair(seed: int):
    """Two engines in the same state: a warm contract policy under a review budget, a fixed clock."""
    settings = load_settings(
        policy={"review_budget_share": 0.3, "seed": seed, "cold_start_records": 0, "target_precision": 0.8}
    )  # the workload has 10 % label noise: 0.95 is out of reach
    state = warm_state(settings, n=1500, seed=seed)
    engines = []
    for _ in range(2):
        engine = build_engine(settings, clock=lambda: 0.0)
        copy_of = copy.deepcopy(state)
        engine.swap_model(copy_of.model, copy_of.featurizer, copy_of.policy_state, copy_of.version)
        engines.append(engine)
    return engines


def stream(n: int, seed: int) -> list[bytes]:
    """Valid records with a few undecodable values in between."""
    rng = random.Random(seed)
    values = []
    for payload, _label in synthetic_records(n, seed=seed, prefix="s"):
        values.append(orjson.dumps(payload))
        if rng.random() < 0.02:
            values.append(b'{"id": "bad", "features": ')
    return values


def per_record(engine, values: list[bytes]) -> list[tuple]:
    """The per-record path: decode, then ``engine.process`` one record at a time, the policy's ``decide`` for each
    (not the batch ``decide_many`` the router's engine calls)."""
    engine.policy.decide_many = types.MethodType(Policy.decide_many, engine.policy)
    decoder = RecordDecoder()
    out = []
    for value in values:
        record = decoder.decode(value)
        if isinstance(record, DecodeError):
            out.append((DEAD_LETTER, record.kind))
            continue
        routed = engine.process([record])[0]
        out.append(summary(routed))
    return out


def summary(routed) -> tuple:
    p, d = routed.prediction, routed.decision
    return (d.outcome, d.reason, p.label, round(d.inclusion_probability, 9), round(d.priority, 9),
            tuple(sorted((k, round(v, 9)) for k, v in p.probabilities.items())))


@pytest.mark.parametrize("seed", [3, 11])
def test_batch_router_decides_exactly_what_the_per_record_path_decides(seed):
    one, batch = engine_pair(seed)
    values = stream(3000, seed)
    expected = per_record(one, values)

    router = BatchRouter(batch, RecordDecoder(), TOPICS, clock=lambda: 5.0)
    rng = random.Random(seed)
    got = []
    start = 0
    while start < len(values):  # batches of random sizes, as the loop fetches them
        size = rng.choice([1, 2, 7, 16, 64, 500])
        chunk = values[start:start + size]
        origins = [Origin("records", 0, start + i) for i in range(len(chunk))]
        for outcome in router.route(chunk, [None] * len(chunk), origins):
            got.append((DEAD_LETTER, outcome.reason) if outcome.outcome == DEAD_LETTER else summary(outcome.routed))
        start += size

    assert got == expected
    kinds = {g[0] for g in got}
    assert kinds == {"label", "review", "deferred", DEAD_LETTER}, kinds  # the stream exercises every outcome


def test_outcome_messages_validate_against_their_models():
    _, engine = engine_pair(5)
    values = [orjson.dumps(payload) for payload, _ in synthetic_records(400, seed=5)]
    router = BatchRouter(engine, RecordDecoder(), TOPICS, clock=lambda: 7.0)
    outcomes = router.route(values, [None] * len(values), [Origin("records", 1, i, 100.0) for i in range(len(values))])
    models = {"labels": Label, "review": ReviewRequest, "deferred": Deferred}
    for value, outcome in zip(values, outcomes, strict=True):
        message = models[outcome.topic].model_validate_json(outcome.value)
        assert message.id.encode() == outcome.key
        assert outcome.routed_at == message.timestamp == 7.0
        assert outcome.event_time == 100.0  # no record timestamp: the message's
        if outcome.topic != "labels":
            assert outcome.record_json == value


class ExplodingModel:
    """Wraps a model; raises for inputs with ``x0`` = 13 (injected failure)."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def predict_proba_many(self, xs):
        self._explode(xs)
        return self._model.predict_proba_many(xs)

    def predict_many(self, xs):
        self._explode(xs)
        return self._model.predict_many(xs)

    def compiled_for(self, batch_size):
        return None  # the failure is injected in predict_many: the engine must not predict around it

    @staticmethod
    def _explode(xs):
        if any(x.get("f00") == 13.0 for x in xs):
            raise OverflowError("injected: the model cannot take f00=13")


def test_no_record_can_fail_its_batch(monkeypatch):
    """Undecodable, decoder-crashing, model-crashing, NaN-answering, encoder-crashing: each a dead letter, the rest routed."""
    _, engine = engine_pair(7)
    engine.model = ExplodingModel(engine.model)
    payloads = [payload for payload, _ in synthetic_records(60, seed=7)]
    payloads[10]["features"]["f00"] = 13.0  # crashes the model
    payloads[20]["features"] = {f"f{j:02d}": MAX_FLOAT for j in range(20)}  # NaN probabilities
    payloads[30]["id"] = "encoder-poison"  # crashes the encoder (injected below)
    values = [orjson.dumps(p) for p in payloads]
    values[40] = b"\xff not json"
    values[50] = b"decoder-poison"

    def poisoned(encode):
        def wrapper(*args, **kwargs):
            ids = args[0] if isinstance(args[0], list) else args[:2]  # the record id(s): first or second argument
            if "encoder-poison" in ids:
                raise ValueError("injected: cannot encode")
            return encode(*args, **kwargs)
        return wrapper

    class CrashingDecoder(RecordDecoder):
        def decode(self, value, key=None):
            if value == b"decoder-poison":
                raise RecursionError("injected: decoder bug")
            return super().decode(value, key)

    for name in ("encode_label", "encode_labels", "encode_review", "encode_deferred"):
        monkeypatch.setattr(router_module, name, poisoned(getattr(router_module, name)))
    router = BatchRouter(engine, CrashingDecoder(), TOPICS)
    outcomes = router.route(values, [None] * len(values), [Origin("records", 2, 1000 + i) for i in range(len(values))])

    dead = {i: o.reason for i, o in enumerate(outcomes) if o.outcome == DEAD_LETTER}
    assert dead == {10: "model_error", 20: "model_error", 30: "encode_error", 40: "invalid_json", 50: "decode_error"}
    for i, outcome in enumerate(outcomes):
        if i in dead:
            letter = DeadLetter.model_validate_json(outcome.value)
            assert (letter.partition, letter.offset, letter.raw_bytes()) == (2, 1000 + i, values[i])
            assert letter.error
        else:
            assert outcome.routed.record.id == payloads[i]["id"]
    assert "OverflowError" in DeadLetter.model_validate_json(outcomes[10].value).error


def test_a_value_too_large_to_carry_is_dead_lettered_by_reference():
    _, engine = engine_pair(8)
    router = BatchRouter(engine, RecordDecoder(), TOPICS, dead_letter_inline_bytes=4096)
    big = b'{"id": "big", "features": {"x": 1}, "text": "' + b"t" * 900_000 + b'"}'
    small_bad = b"{" * 100
    outcomes = router.route([big, small_bad], [b"big", None], [Origin("records", 0, 41), Origin("records", 0, 42)])
    letter = DeadLetter.model_validate_json(outcomes[0].value)
    assert (outcomes[0].reason, letter.truncated, letter.size, letter.offset) == ("too_large", True, len(big), 41)
    assert letter.sha256 == hashlib.sha256(big).hexdigest()
    assert big.startswith(letter.raw_bytes()) and len(letter.raw_bytes()) == 1024
    assert outcomes[0].key == b"records:0:41" and len(outcomes[0].value) < 3000
    whole = DeadLetter.model_validate_json(outcomes[1].value)
    assert (whole.truncated, whole.raw_bytes()) == (False, small_bad)

    forced = router.dead_letter(b'{"id": "ok"}', b"ok", Origin("records", 3, 9), "unpublishable", "refused", by_reference=True)
    assert DeadLetter.model_validate_json(forced.value).truncated and forced.key == b"records:3:9"


def test_auto_labels_carry_the_labeling_functions_votes():
    """With weak.functions, an auto-label an LF voted on is ``method=weak`` with the votes; the others ``auto``."""
    from labelstream.core.engine import LabelingEngine
    from labelstream.core.model import OnlineModel
    from labelstream.core.policy import ThresholdPolicy
    from labelstream.core.weak import LabelingFunction, WeakSupervision

    lf = LabelingFunction("red", lambda record: "pos" if record.features["colour"] == "red" else None)
    engine = LabelingEngine(
        OnlineModel(seed=5), ThresholdPolicy(0.7, cold_start_records=0, cold_start_corrections=0),
        weak=WeakSupervision.build([lf], batch_timeout=None),
    )
    for payload, label in synthetic_records(1000, seed=4):
        engine.learn(payload["features"], label)
    payloads = [payload for payload, _ in synthetic_records(400, seed=5)]
    outcomes = BatchRouter(engine, RecordDecoder(), TOPICS).route(
        [orjson.dumps(p) for p in payloads], [None] * len(payloads), [Origin("records", 0, i) for i in range(len(payloads))]
    )
    labels = {o.routed.record.id: Label.model_validate_json(o.value) for o in outcomes if o.outcome == "label"}
    red = {p["id"] for p in payloads if p["features"]["colour"] == "red"}
    assert labels.keys() & red and labels.keys() - red  # both kinds were auto-labeled
    for record_id, label in labels.items():
        if record_id in red:
            assert (label.method, label.votes) == ("weak", {"red": "pos"})
        else:
            assert (label.method, label.votes) == ("auto", None)


def test_a_model_crash_does_not_count_the_labeling_functions_twice():
    from labelstream.core.weak import LabelingFunction, WeakSupervision

    _, engine = engine_pair(7)
    engine.model = ExplodingModel(engine.model)
    engine.weak = WeakSupervision.build([LabelingFunction("always", lambda record: "pos")], batch_timeout=None)
    payloads = [payload for payload, _ in synthetic_records(30, seed=7)]
    payloads[4]["features"]["f00"] = 13.0  # crashes the model: the batch is routed again record by record
    outcomes = BatchRouter(engine, RecordDecoder(), TOPICS).route(
        [orjson.dumps(p) for p in payloads], [None] * 30, [Origin("records", 0, i) for i in range(30)]
    )
    assert [i for i, o in enumerate(outcomes) if o.outcome == DEAD_LETTER] == [4]
    assert engine.weak.stats()["always"]["votes"] == 29  # each routed record voted on once


def test_evolved_records_keep_a_c_decode_and_are_flagged():
    _, engine = engine_pair(9)
    decoder = RecordDecoder()
    thorough = []
    decoder._thorough = lambda value: thorough.append(value) or RecordDecoder._thorough(decoder, value)
    plain = {"id": "p", "features": {"f00": 1.0}}
    values = [
        orjson.dumps(plain),
        orjson.dumps({**plain, "id": "e1", "shop": "s1"}),  # an added field
        orjson.dumps({**plain, "id": "e2", "schema_version": "1.4"}),  # a newer minor version
        orjson.dumps({**plain, "id": "b", "features": {"f00": True}, "shop": "s1"}),  # pydantic's path, evolved too
        b'{"id": "x", "features": {"f00": 1}, "schema_version": 2}',  # a new major version: refused
    ]
    outcomes = BatchRouter(engine, decoder, TOPICS).route(values, [None] * 5, [Origin("records", 0, i) for i in range(5)])
    assert [o.evolved for o in outcomes] == [False, True, True, True, False]
    assert outcomes[4].reason == "unsupported_schema_version"
    assert outcomes[1].routed.record.metadata == {"shop": "s1"}
    assert thorough == values[3:]  # only the boolean feature and the major version reached pydantic


def test_a_record_id_routed_within_the_window_is_dead_lettered_as_a_duplicate():
    from labelstream.core.dedupe import DedupeWindow
    from labelstream.core.router import DUPLICATE

    _, engine = engine_pair(4)
    router = BatchRouter(engine, RecordDecoder(), TOPICS, dedupe=DedupeWindow(100))
    payloads = [payload for payload, _ in synthetic_records(6, seed=4)]
    first = [orjson.dumps(p) for p in payloads[:4]]
    again = orjson.dumps({**payloads[1], "features": {"f00": 5.0}})  # the same id with other content: still a duplicate
    batch1 = first + [first[0]]  # r0 twice in one batch
    origins1 = [Origin("records", 0, i) for i in range(5)]
    out1 = router.route(batch1, [None] * 5, origins1)
    assert [o.outcome == DEAD_LETTER for o in out1] == [False] * 4 + [True]
    letter = DeadLetter.model_validate_json(out1[4].value)
    assert (letter.error_kind, letter.offset, letter.raw_bytes()) == (DUPLICATE, 4, first[0])
    assert "partition 0 offset 0" in letter.error and "labeler.dedupe_window" in letter.error

    # the next batch: r1 again at a new offset is a duplicate; the same messages redone are not
    out2 = router.route([again, first[2], orjson.dumps(payloads[4])], [None] * 3,
                        [Origin("records", 0, 5), Origin("records", 0, 2), Origin("records", 0, 6)])
    assert [o.reason for o in out2][0] == DUPLICATE and all(o.outcome != DEAD_LETTER for o in out2[1:])
    # an invalid record does not enter the window: its corrected copy is routed
    bad, fixed = b'{"id": "late", "features": {}}', b'{"id": "late", "features": {"f00": 1.0}}'
    out3 = router.route([bad, fixed], [None] * 2, [Origin("records", 1, 0), Origin("records", 1, 1)])
    assert (out3[0].reason, out3[1].outcome != DEAD_LETTER) == ("no_features", True)


def test_the_dedupe_window_forgets_the_oldest_ids():
    from labelstream.core.dedupe import DedupeWindow

    window = DedupeWindow(3)
    for offset, record_id in enumerate("abcd"):
        assert window.check(record_id, ("t", 0, offset)) is None
    assert len(window) == 3
    assert window.check("a", ("t", 0, 9)) is None  # out of the window: routed again
    assert window.check("c", ("t", 0, 10)) == ("t", 0, 2)


def varied_stream(n: int, seed: int) -> list[bytes]:
    """Valid records the decoder accepts in every shape the columnar path must take as the per-record one does:
    missing, unknown and reordered features, unseen and new categorical values, integers, a number where a string
    was and back, booleans (pydantic's path), a numeric feature named like an indicator, text, evolved records."""
    rng = random.Random(seed)
    values = []
    for i, (payload, _label) in enumerate(synthetic_records(n, seed=seed, prefix="v")):
        features = payload["features"]
        shape = rng.randrange(40)  # 0-11 an unusual record, else a plain one: the plain ones form groups
        if shape == 0:
            for name in rng.sample(sorted(features), 3):
                del features[name]  # missing
        elif shape == 1:
            features[f"extra{rng.randrange(3)}"] = round(rng.gauss(0, 1), 3)  # unknown to the model
        elif shape == 2:
            features["colour"] = rng.choice(["mauve", "teal"])  # a category the model never saw
        elif shape == 3:
            features["f03"] = rng.randrange(-5, 6)
        elif shape == 4:
            features["f04"] = rng.choice(["high", "low"])  # a string where the model learned a number
        elif shape == 5:
            features["colour"] = 0.5  # a number where it learned a string
        elif shape == 6:
            payload["shop"] = "s1"  # an added field
        elif shape == 7:
            payload["schema_version"] = "1.3"  # a newer minor version
        elif shape == 8:
            features["f05"] = True  # pydantic's path
        elif shape == 9:
            payload["features"] = dict(rng.sample(sorted(features.items()), len(features)))  # another order
        elif shape == 10:
            features["colour=red"] = 2.5  # a numeric feature named like the indicator (it wins, as it comes last)
        elif shape == 11 and 1200 <= i < 1300:
            payload["text"] = "a few words"  # a batch with text goes the per-record way
        values.append(orjson.dumps(payload))
    return values


def test_the_columnar_path_routes_exactly_as_the_per_record_inputs_do():
    """Predictions from the features column by column (the default) equal those of featurize -> feature matrix,
    to the bit, and the decisions follow; and both equal the per-record engine path."""
    columnar, per_input = engine_pair(3)
    per_input.columnar = False
    values = varied_stream(2000, 5)
    routers = [BatchRouter(engine, RecordDecoder(), TOPICS, clock=lambda: 5.0) for engine in (columnar, per_input)]
    rng = random.Random(5)
    got: list[list] = [[], []]
    start = 0
    while start < len(values):
        size = rng.choice([16, 64, 500, 3])
        chunk = values[start:start + size]
        origins = [Origin("records", 0, start + i) for i in range(len(chunk))]
        for out, router in zip(got, routers, strict=True):
            for outcome in router.route(chunk, [None] * len(chunk), origins):
                routed = outcome.routed
                out.append((outcome.outcome, outcome.reason, outcome.evolved) if routed is None else
                           (routed.prediction, routed.decision, outcome.evolved))
        start += size

    assert got[0] == got[1]
    assert {g[1].outcome for g in got[0]} == {"label", "review", "deferred"}
    assert sum(g[2] for g in got[0]) > 100  # evolved records went through too
    one, _ = engine_pair(3)
    assert [summary(Routed(None, p, d)) for p, d, _ in got[0]] == per_record(one, values)


def test_a_non_finite_prediction_in_a_batch_of_finite_ones_is_dead_lettered(monkeypatch):
    """The batch's one check of every probability (_all_finite) lets no NaN or infinity through as a label."""
    _, engine = engine_pair(9)
    process = engine.process
    bad = {3: math.nan, 7: math.inf, 11: -math.inf}

    def answering_non_finite(records):
        routed = process(records)
        for i, value in bad.items():
            r = routed[i]
            routed[i] = Routed(r.record, Prediction({"a": value, "b": 0.5}, "b", 0.5), r.decision, r.votes)
        return routed

    monkeypatch.setattr(engine, "process", answering_non_finite)
    values = [orjson.dumps(payload) for payload, _ in synthetic_records(40, seed=9)]
    outcomes = BatchRouter(engine, RecordDecoder(), TOPICS).route(values, [None] * 40, [Origin("records", 0, i) for i in range(40)])
    assert {i for i, o in enumerate(outcomes) if o.outcome == DEAD_LETTER} == set(bad)
    assert all(outcomes[i].reason == "model_error" for i in bad)


def test_all_finite_is_finite_exactly_when_each_record_is():
    def routed(*probabilities):
        return [Routed(None, Prediction(p, None, 0.0), Decision("label", "confident")) for p in probabilities]

    assert router_module._all_finite(routed({"a": 0.2, "b": 0.8}, {"a": 1.0}))
    assert router_module._all_finite([])
    for odd in ({"a": math.nan}, {"a": math.inf}, {"a": -math.inf}, {"a": 1e308, "b": 1e308}):
        assert not router_module._all_finite(routed({"a": 0.5}, odd))
    assert not router_module._all_finite(routed({"a": math.inf}) + routed({"a": -math.inf}))
    assert not router_module._all_finite([*routed({"a": 0.5}), "model_error: injected"])
