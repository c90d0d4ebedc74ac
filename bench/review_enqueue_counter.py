#!/usr/bin/env python3
"""What keeping each id shape's highest counter costs the review ingest's enqueue script (docs/review.md, "Shown id").

    source /work/team/env-A   # or any Redis: LABELSTREAM_REDIS__URL
    .venv/bin/python bench/review_enqueue_counter.py
    .venv/bin/python bench/review_enqueue_counter.py --rounds 40 --batches 20

``enqueue.lua`` raises ``p:review:counter_max:<shape>`` for an id with a counter (a GET, and a SET when it rises),
so that a gold item's shown id is drawn below the highest counter seen. This enqueues batches of 100 new review items
with the script as it is and with that block taken out, interleaved (A, B, B, A, ...), for two kinds of ids: a
rising counter (``web0000001``, every record a new highest) and UUIDs (no counter: the pattern match alone). Prints
the Redis commands the script runs per record (INFO commandstats: deterministic) and the script's round trip per
record, median of each variant and of the paired differences (wall clock: noisy on a shared machine; read the
commands first). Its keys live under a prefix of their own and are deleted after. Run it on a Redis nothing else
uses meanwhile: commandstats are the server's.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
import uuid

from gold_shown_ids import real_request as request  # bench/ is the script's own directory

from labelstream.review.queue_store import _load_script
from labelstream.settings import load_settings
from labelstream.store.connection import connect

COUNTED = ("exists", "hset", "zadd", "get", "set")
BLOCK = """    local shape, counter = id_counter(id)
    if shape and counter > (redis.call('GET', k_counter_max(shape)) or '') then  -- same length: as numbers
      redis.call('SET', k_counter_max(shape), counter, 'EX', 7 * DAY_SECONDS)
    end
"""


def commands(client) -> dict[str, int]:  # noqa: ANN001
    stats = client.info("commandstats")
    return {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in COUNTED}


def run(client, script, ids: list[str], batch: int) -> tuple[float, float]:  # noqa: ANN001
    """(Redis commands per record, seconds per record) of enqueuing ``ids`` in batches, under a fresh prefix."""
    prefix = f"bench-enqueue-{secrets.token_hex(4)}"
    try:
        before, seconds = commands(client), 0.0
        for start in range(0, len(ids), batch):
            args: list[object] = [prefix, time.time(), len(ids[start : start + batch])]
            for record_id in ids[start : start + batch]:
                args += [record_id, f"{1_700_000_000.0:020.6f}|{record_id}", "-0.5", 1, request(record_id), "{}"]
            began = time.perf_counter()
            script(args=args)
            seconds += time.perf_counter() - began
        after = commands(client)
        return sum(after[n] - before[n] for n in COUNTED) / len(ids), seconds / len(ids)
    finally:
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="A/B pairs per kind of id")
    parser.add_argument("--batches", type=int, default=10, help="batches of 100 records per run")
    args = parser.parse_args()
    client = connect(load_settings().redis)
    source = _load_script("enqueue")
    assert BLOCK in source, "enqueue.lua changed: update BLOCK"
    scripts = {"with": client.register_script(source), "without": client.register_script(source.replace(BLOCK, ""))}
    n = 100 * args.batches
    kinds = {
        "counter": lambda r: [f"web{r * n + i:07d}" for i in range(n)],
        "uuid": lambda r: [str(uuid.uuid4()) for _ in range(n)],
    }
    for kind, make in kinds.items():
        figures: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        for r in range(args.rounds):
            order = ("with", "without") if r % 2 == 0 else ("without", "with")
            ids = make(r)
            for variant in order:
                figures[variant].append(run(client, scripts[variant], ids, 100))
        cmds = {v: statistics.median(c for c, _ in figures[v]) for v in figures}
        micros = {v: statistics.median(s for _, s in figures[v]) * 1e6 for v in figures}
        paired = statistics.median(
            (w[1] - o[1]) * 1e6 for w, o in zip(figures["with"], figures["without"], strict=True)
        )
        print(
            f"{kind:8s} commands/record with {cmds['with']:.2f} without {cmds['without']:.2f}; "
            f"us/record (median of {args.rounds}) with {micros['with']:.2f} without {micros['without']:.2f}, "
            f"paired difference {paired:+.2f}"
        )


if __name__ == "__main__":
    main()
