"""Pass-through baselines: consume -> JSON parse -> produce, with no labeling. The limit the labeler is held to.

Run as a subprocess by the throughput benchmark; prints one JSON line:
``{"records": N, "seconds": ..., "cpu_seconds": ...}`` measured from the
first record consumed to the last one delivered.

    python -m labelstream.bench.passthrough confluent --source T --sink T2 --count N
    python -m labelstream.bench.passthrough faust --source T --sink T2 --count N
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import orjson


def confluent_passthrough(bootstrap: str, source: str, sink: str, count: int, batch_size: int, wait_ms: int) -> dict:
    from confluent_kafka import Consumer, Producer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-passthrough-{os.getpid()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "queued.min.messages": 100_000,
        }
    )
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.num.messages": 10_000, "compression.type": "lz4", "enable.idempotence": True}
    )
    consumer.subscribe([source])
    done = 0
    started = cpu_started = None
    while done < count:
        messages = consumer.consume(batch_size, wait_ms / 1000)
        if messages and started is None:
            started, cpu_started = time.perf_counter(), time.process_time()
        for msg in messages:
            if msg.error():
                continue
            value = orjson.loads(msg.value())
            while True:
                try:
                    producer.produce(sink, key=msg.key(), value=orjson.dumps(value))
                    break
                except BufferError:
                    producer.poll(0.01)
            done += 1
        producer.poll(0)
        if messages:
            consumer.commit(asynchronous=True)
    producer.flush(60)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    consumer.close()
    return {"records": done, "seconds": seconds, "cpu_seconds": cpu}


def faust_passthrough(bootstrap: str, source: str, sink: str, count: int, batch_size: int, wait_ms: int) -> dict:
    import faust

    datadir = tempfile.mkdtemp(prefix="bench-faust-")  # faust's table directory (no tables): not in the cwd
    app = faust.App(
        f"bench-faust-{os.getpid()}",
        broker=f"kafka://{bootstrap}",
        datadir=datadir,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
    )
    source_topic = app.topic(source, value_serializer="raw", key_serializer="raw")
    sink_topic = app.topic(sink, value_serializer="raw", key_serializer="raw")
    state = {"done": 0, "started": None, "cpu": None}

    @app.agent(source_topic)
    async def passthrough(stream):  # noqa: ANN001, ANN202
        async for batch in stream.take_events(batch_size, within=wait_ms / 1000):
            if state["started"] is None:
                state["started"], state["cpu"] = time.perf_counter(), time.process_time()
            for event in batch:
                value = orjson.loads(event.value)
                await sink_topic.send(key=event.key, value=orjson.dumps(value))
            state["done"] += len(batch)
            if state["done"] >= count:
                await app.producer.flush()
                result = {
                    "records": state["done"],
                    "seconds": time.perf_counter() - state["started"],
                    "cpu_seconds": time.process_time() - state["cpu"],
                }
                os.write(1, (json.dumps(result) + "\n").encode())  # faust redirects sys.stdout to its log
                shutil.rmtree(datadir, ignore_errors=True)
                os._exit(0)

    worker = faust.Worker(app, loglevel=os.environ.get("BENCH_FAUST_LOGLEVEL", "error"), quiet=True)
    worker.execute_from_commandline()
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["confluent", "faust"])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--wait-ms", type=int, default=50)
    args = parser.parse_args()
    run = confluent_passthrough if args.kind == "confluent" else faust_passthrough
    result = run(args.bootstrap, args.source, args.sink, args.count, args.batch_size, args.wait_ms)
    if result:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
