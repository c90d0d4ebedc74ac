"""Text featurizers: TF-IDF columns agree across processes and skip the scaler; the pre-trained encoder transfers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from labelstream.core.build import build_engine
from labelstream.core.compiled import CompiledLogistic
from labelstream.core.schemas import Record
from labelstream.core.text import SentenceEncoder, TfidfText, _verify
from labelstream.errors import LabelstreamError
from labelstream.settings import load_settings
from labelstream.simulate.text_data import tickets


def test_tfidf_columns_survive_pickling_and_a_new_process_hash():
    tfidf = TfidfText(buckets=1 << 10)
    for text in ["refund my card", "card charged twice", "parcel never arrived"]:
        tfidf.learn_one(text)
    copy = pickle.loads(pickle.dumps(tfidf))  # what a labeler gets in a model version
    assert copy.transform_many(["my card was charged"]) == tfidf.transform_many(["my card was charged"])
    # crc32 buckets, not Python's per-process hash(): another process (another hash seed) names the same columns
    code = "from labelstream.core.text import TfidfText; print(sorted(TfidfText(buckets=1 << 10).transform_many(['card refund'])[0]))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == str(sorted(tfidf.transform_many(["card refund"])[0]))


def test_text_columns_pass_the_scaler_and_the_compiled_path_agrees_with_river():
    engine = build_engine(load_settings(text={"featurizer": "tfidf", "hash_buckets": 256}))
    rows = list(tickets(300, seed=3))
    records = [Record(id=str(i), features={"channel": x["channel"], "n": float(i % 7)}, text=x["text"])
               for i, (x, _) in enumerate(rows)]
    for record, (_, label) in zip(records, rows, strict=True):
        engine.learn(record, label)
    scaler = next(iter(engine.model.estimator.steps.values()))
    assert not any(name.startswith("text#") for name in scaler.means)  # never scaled
    xs = engine.featurizer.transform_records(records[:40])
    compiled = CompiledLogistic.from_pipeline(engine.model.estimator).predict_proba_many(xs)
    slow = [engine.model.estimator.predict_proba_one(x) for x in xs]
    assert all(abs(f[k] - s[k]) < 1e-9 for f, s in zip(compiled, slow, strict=True) for k in s)


def test_the_engine_learns_words_from_answers_and_leaves_numeric_records_alone():
    engine = build_engine(load_settings(text={"featurizer": "tfidf"}))
    numeric = Record(id="n", features={"x": 1.0})
    assert engine.featurizer.transform_records([numeric]) == [{"x": 1.0}]
    rows = list(tickets(600, seed=5))
    correct = 0
    for i, (x, label) in enumerate(rows):
        record = Record(id=str(i), features={}, text=x["text"])
        if i >= 400:
            correct += engine.score([record])[0].label == label
        engine.learn(record, label)
    assert correct / 200 > 0.7  # 4 classes: chance is 0.25; the text alone carries the label


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


def test_the_encoder_places_paraphrases_closer_than_other_topics(encoder):
    a, b, c = encoder.embed(["I was billed twice for one order", "my card was charged two times", "the parcel never arrived"])
    assert (a @ b) > (a @ c) + 0.2 and (a @ b) > (b @ c) + 0.2
    assert abs(float(a @ a) - 1.0) < 1e-5


def test_the_encoder_pickles_without_its_session_and_reopens(encoder):
    before = encoder.transform_many(["hello world"])[0]
    copy = pickle.loads(pickle.dumps(encoder))
    assert copy._session is None
    after = copy.transform_many(["hello world"])[0]
    assert max(abs(before[k] - after[k]) for k in before) < 1e-6 and len(after) == 384


def test_a_swapped_encoder_file_is_refused(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    with pytest.raises(LabelstreamError, match="pinned"):
        _verify(fake)


def test_the_encoder_transfers_what_it_knows_from_few_answers():
    """Prequential accuracy on the first 150 tickets: the pre-trained encoder beats TF-IDF, which knows no word yet."""
    rows = list(tickets(150, seed=11))

    def accuracy(featurizer: str) -> float:
        engine = build_engine(load_settings(text={"featurizer": featurizer}))
        correct = 0
        for i, (x, label) in enumerate(rows):
            record = Record(id=str(i), features={}, text=x["text"])
            correct += engine.score([record])[0].label == label
            engine.learn(record, label)
        return correct / len(rows)

    tfidf, encoder = accuracy("tfidf"), accuracy("encoder")
    assert encoder > tfidf + 0.1, (encoder, tfidf)
