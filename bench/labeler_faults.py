"""RELIABILITY.md sections of the labeler's fault tests: poison pills and outages (called by ``bench/faults.py``).

Each section renders only the figures a passing run wrote
(``tests/faults/test_poison_pills.py``, ``tests/faults/test_outages.py``).
"""

from __future__ import annotations


def render(figures: dict) -> list[str]:
    lines: list[str] = []
    if "poison_pills" in figures:
        lines += _poison(figures["poison_pills"])
    outages = [figures[k] for k in ("outage_kafka", "outage_redis") if k in figures]
    if outages:
        lines += _outages(outages)
    return lines


def _poison(poison: dict) -> list[str]:
    lines = [
        "## Poison pills: no record stalls a partition",
        "",
        f"A stream of {poison['records']} valid records on three partitions, with {poison['poisons']} poison records",
        "struck mid-stream (each shape twice), nothing killed (`tests/faults/test_poison_pills.py`).",
        "Time to skip: from the poison's produce to the valid record right behind it on the same",
        "partition being visible with its outcome (read_committed); the first row is the same for a",
        "valid record (the normal latency).",
        "",
        "| poison | time to skip, median (s) | max (s) |",
        "|---|---|---|",
    ]
    for shape, median in poison["skip_seconds"].items():
        lines.append(f"| {shape} | {median} | {poison['skip_seconds_max'][shape]} |")
    retries = poison.get("retries", {})
    lines += [
        "",
        f"Lost {poison['lost']}, duplicated {poison['duplicated']}; every poison on the DLQ once, with its",
        "partition, offset, size and SHA-256 (by reference when too large to carry). Batches redone to find",
        f"a refused dead letter: {retries.get('poison', 0):g} named by the broker's report, {retries.get('bisect', 0):g} bisection steps.",
        "",
    ]
    return lines


def _outages(outages: list[dict]) -> list[str]:
    lines = [
        "## Outages: the broker, then Redis, down mid-stream",
        "",
        "The labeler, the learner and the reviewers (real processes, started once) while records keep",
        "coming at 100/s: the broker stopped for the outage, then started again; then the same for Redis",
        "(`tests/faults/test_outages.py`). `/livez` and `/readyz` counts cover the whole run.",
        "",
        "| figure | " + " | ".join(f"{o['outage']} down" for o in outages) + " |",
        "|---|" + "---|" * len(outages),
    ]
    rows = [
        ("outage (s)", lambda o: f"{o['outage_seconds']:g}"),
        ("records", lambda o: o["records"]),
        ("labeler exited", lambda o: "no" if not o["exited"] else "**yes**"),
        ("restarts in place (stuck-call watchdog)", lambda o: o["restarts_in_place"]),
        ("lost / duplicated", lambda o: f"{o['lost']} / {o['duplicated']}"),
        ("reviews answered by", lambda o: o.get("reviewers", "reviewer-sim (oracle)")),
        ("reviews learned once / corrections", lambda o: f"{o['learned']} / {o['corrections']}" if "learned" in o else ""),
        ("review service exited", lambda o: "**yes**" if o.get("review_service_exited") else "no"),
        ("learner, reviewer-sim exited", lambda o: ", ".join(
            "**yes**" if o.get(k) else "no" for k in ("learner_exited", "reviewer_sim_exited"))),
        ("labeler transaction timeout (s)", lambda o: o.get("transaction_timeout_ms", 30_000) / 1000),
        ("first commit after the restore (s)", lambda o: o["commit_after_restore_seconds"]),
        ("every record produced before the restore routed, after (s)", lambda o: o["backlog_routed_after_restore_seconds"]),
        ("review service enqueued a review request again, after (s)", lambda o: o.get("review_ingest_after_restore_seconds") or ""),
        ("learner learned a correction again, after (s)", lambda o: o.get("learner_after_restore_seconds") or ""),
        ("every review so far answered and learned, after (s)", lambda o: o.get("reviews_learned_after_restore_seconds", "")),
        ("`/livez` answers (status: count)", lambda o: _counts(o["livez"])),
        ("`/readyz` answers (status: count)", lambda o: _counts(o["readyz"])),
        ("learner `/livez`, `/readyz` answers", lambda o: f"{_counts(o['learner_livez'])}; {_counts(o['learner_readyz'])}"
         if "learner_livez" in o else ""),
    ]
    for name, cell in rows:
        lines.append(f"| {name} | " + " | ".join(str(cell(o)) for o in outages) + " |")
    lines += [
        "",
        "`/livez` stays 200 while the labeler waits (a liveness probe must not restart it); `/readyz`",
        "turns 503 while it cannot commit and 200 again after (0: no answer, during a restart in place).",
        "Every review was answered once with the true label and learned exactly once (the learner's count and",
        "its latest snapshot's equal the distinct corrections); the oracle reviewer-sim instead of the review",
        "service: `LABELSTREAM_FAULTS_REVIEWERS=oracle`.",
        "",
    ]
    return lines


def _counts(counts: dict) -> str:
    return ", ".join(f"{status}: {n}" for status, n in sorted(counts.items(), key=lambda item: int(item[0])))
