#!/usr/bin/env python3
"""How a gold instance's shown id is drawn: uniform where it is drawn, the replaced id's shape elsewhere.

    source /work/team/env-A   # or any Redis: LABELSTREAM_REDIS__URL
    .venv/bin/python bench/gold_shown_ids.py
    .venv/bin/python bench/gold_shown_ids.py --instances 10000 --id web07 --id 018f3c2a-7b1e-7c3d-9a4f-6e5d4c3b2a19

For each id, one real item waits and ``--instances`` claims by as many reviewers each serve a new gold instance in
its place (``claim.lua`` draws each shown id from the SHA-1 of a fresh random key). Prints, per id: the positions
drawn, how many distinct shown ids, the smallest chi-square p-value of the characters drawn at one position
against uniform (and times the positions: Bonferroni), and how many shown ids have the replaced id's pattern of
digits and letters (a random id drawn digit for digit would have it always; docs/review.md, "Looks", cites this).
Its keys live under a prefix of their own and are deleted after.
"""

from __future__ import annotations

import argparse
import collections
import secrets

import orjson
from scipy.stats import chisquare

from labelstream.review.gold import GoldItem, GoldOffer, GoldSet
from labelstream.review.items import QueueItem
from labelstream.review.queue import ReviewQueue
from labelstream.review.queue_counter import QueueCounter
from labelstream.settings import load_settings
from labelstream.store.connection import connect
from labelstream.store.records import RecordStore

IDS = ("phishing-17", "3f2a9c4e-1b2c-4d3e-8f9a-0b1c2d3e4f5a", "INV-x7Kq9Z")


def real_request(record_id: str) -> bytes:
    return orjson.dumps(
        {
            "id": record_id,
            "record": {"id": record_id, "features": {"x": 1.0}},
            "proposed_label": "a",
            "probabilities": {"a": 0.6, "b": 0.4},
            "reason": "uncertain",
            "priority": 0.5,
            "timestamp": 1_700_000_000.0,
        }
    )


def shown_ids(client, replaced: str, instances: int) -> list[str]:  # noqa: ANN001
    prefix = f"bench-shown-{secrets.token_hex(4)}"
    try:
        # one record waits: a counter that never shows a claim (always "0+"), so that gold may replace it
        queue = ReviewQueue(client, prefix, RecordStore(client, prefix, 3600), counter=QueueCounter(0, 1_000_000))
        gold = GoldSet(client, prefix)
        gold.add([GoldItem(id="g1", record={"features": {"x": 1.0}}, label="a")])
        queue.enqueue([QueueItem.from_request(real_request(replaced))])
        offer = gold.offer("nobody", 1.0)
        shown = []
        for n in range(instances):
            instance = GoldOffer(secrets.token_hex(12), "g1", "a", offer.request, offer.content)
            shown.append(queue.claim(f"r{n}", gold=instance).item.id)
        return shown
    finally:
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--id", action="append", help=f"a replaced id (default: {', '.join(IDS)})")
    args = parser.parse_args()
    client = connect(load_settings().redis)
    for replaced in args.id or IDS:
        shown = shown_ids(client, replaced, args.instances)
        drawn = [i for i in range(len(replaced)) if len({s[i] for s in shown}) > 1]
        p = min(chisquare(list(collections.Counter(s[i] for s in shown).values())).pvalue for i in drawn)
        pattern = sum(all(a.isdigit() == b.isdigit() for a, b in zip(s, replaced, strict=True)) for s in shown)
        print(
            f"{replaced}: {len(drawn)} position(s) drawn, {len(set(shown))} distinct of {len(shown)}, smallest "
            f"chi-square p {p:.3f} (x{len(drawn)}: {min(1.0, p * len(drawn)):.2f}), replaced id's digit pattern "
            f"{pattern} of {len(shown)}; e.g. {', '.join(shown[:3])}"
        )


if __name__ == "__main__":
    main()
