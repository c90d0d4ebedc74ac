"""The Quix Streams peer: the labeler's job as a user would write it in an afternoon with Quix Streams.

JSON in, the same river pipeline (``StandardScaler | OneVsRest(LogisticRegression)``,
SGD 0.05, one-hot categoricals) trained on the same warm records, each record
routed by confidence to ``labels`` (≥ ``--threshold``) or ``review``,
exactly-once, a 100 ms commit interval (the labeler's ``commit_interval_ms``).
River predicts one record at a time, as a Quix ``apply`` does. The benchmark
times it as it times the labeler: by its consumer group's committed offsets.

It runs in a virtual environment of its own (quixstreams pins
confluent-kafka < 2.13; ``labelstream bench throughput`` makes it) and imports
nothing from labelstream. Prints one JSON line, ``{"records", "seconds",
"cpu_seconds", "labels", "reviews"}``, from the first record consumed until
the last one is processed and its transaction committed.

    python quix_peer.py --bootstrap B --source T --labels T1 --review T2 --warm warm.jsonl [--count N] [--group G]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import orjson


def featurize(features: dict) -> dict:
    return {(f"{k}={v}" if type(v) is str else k): (1.0 if type(v) is str else float(v)) for k, v in features.items()}


def warm_model(path: str):
    from river import compose, linear_model, multiclass, optim, preprocessing

    model = compose.Pipeline(
        preprocessing.StandardScaler(),
        multiclass.OneVsRestClassifier(linear_model.LogisticRegression(optimizer=optim.SGD(0.05))),
    )
    with open(path, "rb") as lines:
        for line in lines:
            row = orjson.loads(line)
            model.learn_one(featurize(row["features"]), row["label"])
    return model


def main() -> None:
    from quixstreams import Application  # only in the peer's own virtual environment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--bootstrap", "--source", "--labels", "--review", "--warm"):
        parser.add_argument(name, required=True)
    parser.add_argument("--count", type=int, default=0, help="Stop after this many records (0: run until SIGTERM).")
    parser.add_argument("--group", default=f"bench-quix-{os.getpid()}")
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    model = warm_model(args.warm)
    state = {"done": 0, "labels": 0, "started": None, "cpu": None}

    def processed(*_args: object) -> None:
        state["done"] += 1
        if state["done"] == args.count:
            app.stop()

    state_dir = tempfile.mkdtemp(prefix="bench-quix-")  # Quix's default is "state/" in the cwd
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=0.1,
        consumer_extra_config={"isolation.level": "read_committed"},
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
        on_message_processed=processed,
        state_dir=state_dir,
    )
    source = app.topic(args.source, value_deserializer="json")
    labels = app.topic(args.labels, value_serializer="json")
    review = app.topic(args.review, value_serializer="json")

    def route(record: dict) -> dict:
        if state["started"] is None:
            state["started"], state["cpu"] = time.perf_counter(), time.process_time()
        proba = model.predict_proba_one(featurize(record["features"]))
        label = max(proba, key=proba.get)
        confident = proba[label] >= args.threshold
        state["labels"] += confident
        return {"id": record["id"], "label": label, "confidence": proba[label], "route": "label" if confident else "review"}

    sdf = app.dataframe(source).apply(route)
    sdf[sdf["route"] == "label"].to_topic(labels)
    sdf[sdf["route"] == "review"].to_topic(review)
    try:
        app.run()  # commits the last checkpoint (a transaction) on stop
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    seconds, cpu = time.perf_counter() - state["started"], time.process_time() - state["cpu"]
    result = {"records": state["done"], "seconds": seconds, "cpu_seconds": cpu,
              "labels": state["labels"], "reviews": state["done"] - state["labels"]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
