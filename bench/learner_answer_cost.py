"""The learner's cost per human answer: ``AnswerLearner.learn`` on a real Learner (Redis joins), Kafka sends left out.

Usage (the local stack up, ``source env.sh``)::

    .venv/bin/python bench/learner_answer_cost.py [--answers 3000] [--repeats 5]

For each configuration (defaults; ``policy.version_change_reset`` 0.05; ``label_errors.enabled``) a
Learner is built on its own Redis keys (its faust app built, not run), 3 float features a record are
stored as the labeler stores them, and the answers are learned in order. The human labels' sends to
``labels`` go to a sink (a faust send only queues; the broker is not what this measures). Prints the
median microseconds an answer over the repeats and the featurizer calls an answer.

2026-12-02, 2 cores shared (quiet lock, load 2.4-4.3), ``--answers 2000 --repeats 2``, before
(15d91d0) and after (f091e54) alternated twice: transform_one calls an answer 1/2/2 -> 1/1/1
(defaults / version_change_reset / label_errors); time an answer 150-530 us either side, the
spread between runs (up to 2x) far larger than the saving (transform_one of 3 features 0.27 us,
of 100 features 6 us; timeit): the learner's answer cost is its Redis joins and the model.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from typing import Any

from labelstream.core.schemas import Correction
from labelstream.learner import Learner
from labelstream.settings import load_settings
from labelstream.store.records import StoredRecord

CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "defaults": {},
    "version_change_reset": {"policy": {"version_change_reset": 0.05}},
    "label_errors": {"label_errors": {"enabled": True}},
}


class _Sink:
    """Stands in for a faust topic: ``send`` returns at once (what is timed is the learning)."""

    async def send(self, key: bytes, value: bytes) -> None:
        return None


def _records(n: int, seed: int) -> list[tuple[StoredRecord, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        features = {"x1": rng.uniform(0, 10), "x2": rng.uniform(0, 10), "x3": rng.uniform(0, 10)}
        label = "yes" if features["x1"] + features["x2"] <= 8 else "no"
        p = rng.uniform(0.5, 1.0)
        stored = StoredRecord(
            id=f"r{i}", features=features, outcome="review", reason="uncertain",
            probabilities={label: p, ("no" if label == "yes" else "yes"): 1 - p},
            inclusion_probability=0.5, model_version=None, routed_at=time.time(),
        )
        out.append((stored, label))
    return out


async def _learn_all(learner: Learner, items: list[tuple[StoredRecord, str]]) -> float:
    start = time.perf_counter()
    for offset, (stored, label) in enumerate(items):
        correction = Correction(id=stored.id, label=label, answer_id=f"{stored.id}#1", reviewer="bench")
        await learner.answers.learn(correction, "corrections:0", offset)
    return time.perf_counter() - start


def measure(config: dict[str, dict[str, Any]], answers: int, seed: int) -> tuple[float, float]:
    """(microseconds an answer, featurizer calls an answer) for one fresh learner."""
    prefix = f"bench-answer-{uuid.uuid4().hex[:8]}"
    settings = load_settings(redis={"key_prefix": prefix}, learner={"metrics_port": 0}, **config)
    learner = Learner(settings)
    learner.answers.labels_topic = _Sink()
    learner.answers.hold.review_topic = _Sink()
    items = _records(answers, seed)
    learner.store.put_many([stored for stored, _ in items], count_reviews=False, queue_deferred=False)
    featurizer = learner.engine.featurizer
    calls = 0
    transform_one = featurizer.transform_one

    def counted(features: Any) -> dict[str, float]:
        nonlocal calls
        calls += 1
        return transform_one(features)

    featurizer.transform_one = counted  # type: ignore[method-assign]
    seconds = asyncio.run(_learn_all(learner, items))
    client = learner.store.client if hasattr(learner.store, "client") else None
    if client is not None:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    return 1e6 * seconds / answers, calls / answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[float]] = {name: [] for name in CONFIGS}
    calls: dict[str, float] = {}
    for repeat in range(args.repeats):  # configurations interleaved: a noisy moment hits all of them
        for name, config in CONFIGS.items():
            us, calls[name] = measure(config, args.answers, seed=repeat)
            results[name].append(us)
    for name, values in results.items():
        print(f"{name:22s} median {statistics.median(values):7.1f} us/answer  "
              f"(runs {', '.join(f'{v:.1f}' for v in values)}); transform_one calls/answer {calls[name]:.2f}")


if __name__ == "__main__":
    main()
