"""The throughput benchmark's results as a Markdown section."""

from __future__ import annotations

from typing import Any

from labelstream.labeler.trace import describe as describe_trace


def _shares(scaling: dict[str, Any], cpus: int = 2) -> str:
    """Where the CPU went in the scaling runs, in cores: each labeler, the broker, the benchmark's process (it
    produces the records and watches the offsets) and the rest of the machine (Redis, other processes); then
    whether the labelers wanted more CPU than they got (:func:`_bound`)."""
    parts = []
    for name, run in (("one labeler", scaling["one"]), ("two labelers", scaling["two"])):
        shares = run.get("cpu_shares")
        if not shares:
            return ""
        labelers = " + ".join(f"{x:.2f}" for x in shares)
        others = [(what, run.get(key)) for what, key in (("broker", "broker_cpu_share"), ("benchmark", "bench_cpu_share"))]
        others = [(what, x) for what, x in others if x is not None]
        busy = run.get("machine_busy")
        if busy is not None:
            others.append(("rest of the machine", max(0.0, busy * cpus - sum(shares) - sum(x for _, x in others))))
            others.append(("idle", max(0.0, (1 - busy) * cpus)))
        parts.append(f"{name} {labelers}" + (" (" + ", ".join(f"{what} {x:.2f}" for what, x in others) + ")" if others else ""))
    idle = len(scaling["two"]["cpu_shares"]) > 1 and min(scaling["two"]["cpu_shares"]) < 0.05
    return (" CPU used during the measured window, in cores: " + "; ".join(parts) + "." + _waits(scaling)
            + _split(scaling["two"]) + _bound(scaling["two"], cpus, scaling["one"])
            + (" One of the two labelers hardly worked inside the measured window (each held its partition before the "
               "records came: the window was too short for the machine's scheduling, e.g. --quick's records on a busy "
               "machine)." if idle else ""))


def _waits(scaling: dict[str, Any]) -> str:
    """How long the labelers' threads were runnable but waiting for a CPU, and the machine's CPU pressure."""
    runs = [(name, scaling[key]) for name, key in (("one labeler", "one"), ("two labelers", "two"))]
    if any(run.get("cpu_wait_shares") is None for _, run in runs):
        return ""
    text = " Runnable but waiting for a CPU, in seconds a second summed over each labeler's threads: " + "; ".join(
        f"{name} {' + '.join(f'{x:.2f}' for x in run['cpu_wait_shares'])}" for name, run in runs)
    if all(run.get("cpu_pressure") is not None for _, run in runs):
        text += (f"; some task of the machine waited for a CPU {runs[0][1]['cpu_pressure']:.0%} of the window with one "
                 f"labeler, {runs[1][1]['cpu_pressure']:.0%} with two (/proc/pressure/cpu)")
    return text + "."


def _split(two: dict[str, Any]) -> str:
    """Each labeler's share of the window's records (one partition each)."""
    records = two.get("partition_records")
    if not records or len(records) < 2 or not sum(records):
        return ""
    return (" Of the records committed in the two-labeler window, the partitions (one a labeler) took "
            + " / ".join(f"{r / sum(records):.0%}" for r in records) + ".")


BOUND_WAIT = 0.1
"""A labeler whose threads waited for a CPU less than this (seconds a second) did not want more than it got."""
BOUND_IDLE = 0.2
"""Idle cores of the machine above which the cores are not the bound."""


def _bound(two: dict[str, Any], cpus: int, one: dict[str, Any] | None = None) -> str:
    """What bounded the two labelers: the cores (the machine full, the labelers waiting for a CPU) or not (cores
    idle while the labelers did not wait for one: they waited on something else). When the cores were the bound,
    the most the machine allowed: the cores left to the labelers (all but the broker's, the benchmark's and the
    rest of the machine's) over what one labeler used alone."""
    waits, busy = two.get("cpu_wait_shares"), two.get("machine_busy")
    if not waits or busy is None:
        return ""
    idle = (1 - busy) * cpus
    if idle >= BOUND_IDLE and max(waits) < BOUND_WAIT:
        return (f" With two labelers {idle:.2f} cores were idle and neither labeler waited for a CPU: they were not bound "
                "by the cores but waited on something else (the broker, Redis or their own pacing).")
    if idle < BOUND_IDLE and min(waits) >= BOUND_WAIT:
        text = (f" With two labelers the cores were the bound: the machine was {busy:.0%} busy and each labeler's threads "
                f"waited for a CPU {min(waits):.2f} s a second or more")
        labelers, alone = sum(two.get("cpu_shares") or []), sum((one or {}).get("cpu_shares") or [])
        if labelers and alone:
            text += (f"; the labelers had {labelers:.2f} of the {cpus} cores (the rest went to the broker, the benchmark "
                     f"and the rest of the machine), one labeler alone used {alone:.2f}: at the same CPU a record, at most "
                     f"{labelers / alone:.2f} × "
                     "on this machine at that load")
        return text + "."
    return ""


def _run(run: dict[str, Any]) -> str:
    cpu = run.get("cpu_us_per_record")
    return f"{run['records_per_second']:,.0f}/s" + ("" if cpu is None else f" at {cpu:.1f} µs CPU a record")


def scaling_markdown(s: dict[str, Any], cpus: int = 2) -> str:
    """The scaling paragraph: every pair's runs and ratio, the median ratio, where the CPU went (median runs)."""
    pairs = s.get("pairs") or [{"one": s["one"], "two": s["two"], "ratio": s["ratio"], "order": "one, two"}]
    each = "; ".join(
        f"pair {i} ({p['order']}): 1 labeler {_run(p['one'])}, 2 labelers {_run(p['two'])}, {p['ratio']:.2f} ×"
        for i, p in enumerate(pairs, start=1)
    )
    return (
        "Scaling on a 2-partition topic (records produced once every labeler holds its partition; rate from when every "
        f"partition has 20 % of its records committed to when one has 90 %: both labelers at work throughout), {len(pairs)} interleaved pair{'s' if len(pairs) > 1 else ''} of runs: "
        f"{each}. **Median ratio {s['ratio']:.2f} ×** (target ≥ 1.7 where the broker is not the bottleneck); over the runs, "
        f"1 labeler {_run(s['one'])}, 2 labelers {_run(s['two'])} (records/s: the median run, the slower middle one "
        "of an even count; CPU: the median). "
        f"All CPUs of the machine were {_busy(s['one'])} busy with one labeler, {_busy(s['two'])} with two "
        "(the broker, Redis and the benchmark share them; the median runs)." + _shares(s, cpus)
        + (f" The {2 * len(pairs)} scaling runs took {s['seconds']:.0f} s." if "seconds" in s else "")
    )


def _busy(result: dict[str, Any]) -> str:
    busy = result.get("machine_busy")
    return "?" if busy is None else f"{busy:.0%}"


LATENCY_NOTE = (
    "Why p99 at 10k/s was seconds (3.98 s at 20:36 on 2026-12-01, 1.12 s at 17:24): the benchmark itself. Its producer "
    "slept once a record (10,000 wake-ups and tiny produce requests a second) and its reader asked for new outcomes "
    "every millisecond; with no labeler running, that alone took ~0.6 cores of the bench process and ~0.7 of the "
    "broker. The labeler was left ~0.4 cores, about what 10k/s costs it, so every stall (a slow commit, another "
    "process) left a queue that drained at a few hundred records a second: seconds of latency, and a p99 that swings "
    "from run to run (1.1 to 4 s). Interleaved A/B at 10k/s, 20 s each, 2026-12-01 21:50-22:22, load 2-7 from other "
    "jobs: sleeping a record p99 981 / 3,022 / 2,399 ms, pacing at 1 ms 190 / 346 / 295 ms; then linger 1 ms 141 / 125 "
    "vs 0 ms 200 / 192; then the reader's idle fetch 20 ms 149 vs 1 ms 222 / 266. No regression in the labeler: its "
    "code of 155cd93 (the 17:24 run) against today's, same measurement, interleaved: p99 362 / 1,745 / 828 ms vs "
    "326 / 508 / 125 ms. Did not pay: the labeler's consumer holding fetches for 64 KiB or 5 ms (fetch.min.bytes, "
    "fetch.wait.max.ms) instead of answering each produce: 10k/s p99 300 / 79 ms vs 141 / 125, 1k/s 45 / 42 vs 45 / 43 "
    "(no clear gain; not used)."
)


ROUTER_GROWTH_NOTE = (
    'Why the live router cost more than the hot-path table (issue 14, 2026-12-02): in one process its cost a record'
    " grew as the dedupe window filled, in every stage alike, and not from the collector (the labeler's tuning ran "
    'no collection in 100k records). The window kept each id string (and a place tuple) alive: ~100,000 small long-'
    "lived objects spread over the allocator's pools among each batch's temporaries. Batches routed with and "
    'without the dedupe check, alternating in one process, cost the same (e.g. 40.8 / 40.7 us at 80k records): the '
    'check is cheap, the heap it leaves is not; emptying the window mid-run brought the cost down, turning dedupe '
    'off more. The window is now an open-addressing table of 64-bit id hashes and a ring of places in preallocated '
    'arrays, no object kept per id (core/dedupe.py). In process, `.venv/bin/python bench/router_drift.py --records '
    "60000` (us CPU a record per 10k slice, labeler's GC tuning), 02:10, load 0.9: before 18 -> 23-25, after flat "
    '16-20, dedupe off 16-18; at 100k records (02:14): before 26 -> 37, after flat 29-31. `bench/labeler_probe.py '
    "max-rate --records 300000`, interleaved after / before, 02:15-02:17 (others' jobs: machine 59-99 % busy): "
    '19,523 / 14,542 and 20,008 / 17,643 records/s; 45.6 / 50.7 and 42.0 / 54.6 us CPU a record.'
)


COLUMNAR_NOTE = (
    'Columnar predict (issue 14, 2026-12-02): the router decodes the common records of a batch in one loop '
    "(RecordDecoder.decode_plain_many) and the engine builds the compiled model's input matrix straight from the "
    "records' features (core/compiled_inputs.py: records with the same fields form a group, whose numbers are read "
    'with one itemgetter a record and converted by NumPy once, its categorical values looked up in a cache of their'
    ' columns; anything else goes the per-record way), making a model-input dict only when the policy asks for one '
    '(featurizer.LazyInputs: ~7 % of the records, for the review strategy). The same predictions to the bit '
    '(tests/core/test_compiled_inputs.py, test_router.py, test_engine.py). In process, `labelstream bench hot-path`'
    ' (its ideas rows, 03:44, load 2.5-5): featurize + predict 3.79 -> 2.61 us a record; the whole router against '
    'the previous router and decoder, the same 2,000-record batches alternating (best of 6 a batch, median of 12 '
    'batches; 03:42): 16.89 -> 15.42 us. `.venv/bin/python bench/labeler_probe.py max-rate --records 300000`, '
    'before (main 8e1ecc8) and after interleaved, 6 pairs, 03:47-03:50, 04:00-04:03 and 04:12-04:15, quiet lock '
    "held but others' niced jobs running (load 1.3-14, the machine 87-100 % busy): us CPU a record before 33.4 / "
    '36.0 / 36.0 / 38.8 / 36.6 / 32.1, after 31.8 / 33.4 / 32.8 / 35.7 / 31.4 / 29.8, lower in every pair (medians '
    '36.0 -> 32.3, -10 %); records/s ranged 9.9k-26.4k with the load and say little, except in the quietest pair '
    '(04:12-04:13, load 2.4-3.4, machine 87-94 % busy): before 22,492, after 26,364 records/s. py-spy of the '
    'labeler after it (`... max-rate --records 200000 --profile F`, 03:59, loaded machine): BatchRouter.route 75 % '
    'of the samples holding the GIL, decode 19 %, featurize + predict 20 % (31 % at 01:25), of which building the '
    'matrix 17, decide 11.'
)


GAP_NOTE = (
    'min_transaction_gap_ms stays 0 by default (issue 14, 2026-12-02): `.venv/bin/python bench/labeler_probe.py '
    'latency --rate 1000 --seconds 15 --rounds 4 gap10:min_transaction_gap_ms=10 base: floor:`, 04:05-04:10, quiet '
    "lock held, load 6.6 falling to 2.3 (others' niced jobs), round by round: p99 with the 10 ms gap 122 / 70 / 87 "
    '/ 28 ms, without 90 / 77 / 50 / 35 (the floor 51 / 37 / 36 / 33); p50 25 / 17 / 13 / 12 vs 21 / 14 / 12 / 8 '
    'ms; the labeler 0.40 / 0.37 / 0.33 / 0.32 cores vs 0.39 / 0.45 / 0.46 / 0.44, the broker 0.79 / 0.64 / 0.53 / '
    '0.51 vs 0.74 / 0.68 / 0.68 / 0.64. The gap saves about 0.1 core in the labeler and as much in the broker at '
    '1k/s, but the p99 is no lower (lower in 2 rounds of 4, higher in 2) and the p50 is 1-4 ms higher, as in the '
    'pairs above; a run at 03:50-03:53 under load 7-12 (p99 115 / 269 / 406 vs 299 / 153 / 68 ms) said only that '
    'the machine was busy. A setting for a machine short of CPU, not the default.'
)



MAPPED_IN_C_NOTE = (
    'Fewer Python steps a record (issue 14, 2026-12-02 afternoon, merge 9e9ed01): the dedupe window checks a batch '
    'of ids in one loop (DedupeWindow.check_many, a table a quarter full in 4-byte entries); the batch decoder checks '
    'feature-name lengths once a set of names instead of msgspec checking every key, and builds each Record inline; '
    'the loop, handler, predictions, label encoding, drift monitor and decide read their per-record fields with '
    'map/attrgetter/fromiter (C) instead of Python loops. The same outputs: tests/core, tests/labeler (441 passed), '
    'and 20,000 messages (invalid, duplicate, evolved, key-mismatched, bad names) through RoutingHandler.route on '
    'main and the branch, byte-identical but for the dead letters\' wall-clock time. `flock /work/team/quiet.lock '
    'nice -n 10 .venv/bin/python bench/labeler_probe.py max-rate --records 300000`, main 11c9766 against the final '
    'branch, 6 interleaved pairs (15:06-15:11 UTC, load 1.1-3.9), us CPU a record: 26.2 -> 19.8, 26.5 -> 21.4, '
    '24.9 -> 20.8, 27.4 -> 22.8, 27.5 -> 22.9, 28.5 -> 23.6 (16-24 % lower, median ~17 %); records/s 37.9k -> 48.6k, '
    '37.0k -> 45.5k, 39.6k -> 47.2k, 35.4k -> 42.6k, 34.4k -> 41.5k, 33.0k -> 40.8k; lower CPU in all 20 pairs of the '
    'work\'s steps. py-spy (600k records, 15:04, busy machine; share of GIL samples x CPU a record): BatchRouter.route '
    '~21.0 -> ~16.2 us (decode 4.9 -> 3.5, featurize + predict 5.6 -> 3.5, dedupe 2.4 -> 2.0, decide 2.3 -> 2.2). Did '
    'not pay: the input matrix by np.array(dtype=float) (0.94 -> 0.60 us, but it turns strings such as "1.5" into '
    'numbers: not exact), hashes beside the dedupe slots (1.70 vs 1.72 us), the eviction inlined (1.16 -> 1.11 us, '
    'not worth the copy). Why live costs twice the hot-path table: each batch frees ~35 objects a record (a Message, '
    'a Record with its dicts and floats, a Prediction, an Outcome, ...), ~9 % of an in-process copy of the handler '
    'path run on fresh data (16-18 us a record). **The broker, for the latency floor** (14:19-14:32, the same '
    '`labeler_probe.py latency --rate 1000` against a second broker with other settings, interleaved): at 1k/s the '
    'broker allocates ~55 MB/s and G1 pauses 17-46 ms every 4-5 s (its GC log), a likely share of the floor\'s p99; '
    'fewer broker threads (network 1, io 2, background 2) with group.coordinator.append.linger.ms 0: labeler p99 '
    '44 / 47 vs 53 / 47 ms, floor 35 / 33 vs 33 / 37 (no difference); G1 MaxGCPauseMillis=5: pauses still up to 35 ms, '
    'labeler p99 74 / 52 vs 58 / 57 ms (no gain); ZGC: only measured under load 4-6, inconclusive. deploy/stack.sh '
    'takes LABELSTREAM_KAFKA_SETTINGS and LABELSTREAM_KAFKA_JVM_OPTS for such runs.'
)

LOOP_AND_HANDLER_NOTE = (
    "Where the CPU outside the router goes, and comprehensions over attrgetter (issue 14, 2026-12-03 08:40-09:37, "
    "branch wt/hot). `flock /work/team/quiet.lock nice -n 5 .venv/bin/python bench/labeler_probe.py max-rate "
    "--records 300000 --profile F` (08:40, load 1.1-3.2): 17.0k records/s at 51.3 us CPU a record with py-spy "
    "attached (31.2k/s at 31.5 us without it, 08:45; the Python threads 0.90 cores of user time, 0.01 of system "
    "time, ~930 context switches a second: no GIL hand-off cost to speak of). Of the GIL holder's samples, "
    "BatchRouter.route 70 %; outside it, the largest line is the loop's `run_cycle()` call itself (7.8 %, the "
    "~8 % the note above took for GIL hand-offs): most likely the batch freed as run_cycle returns (freeing a "
    "routed batch takes 2.6 us a record in process, ~8 % of 31.5). In process, on real "
    "Messages (/tmp tools, not kept: a consumer's 60,000 messages through a Labeler's handler, thread CPU time; "
    "08:44-08:54, load 1.1-2.5, the machine then ~2x slower than the hot-path table's): router 21.6 us a record; "
    "around it Message.value/key 0.12, origins 0.53, prepare (the records to store, on the loop's thread) 0.76, "
    "the client's produce 0.94, next_offsets 0.37, committed 0.98 (of it observe_batch's 100 latency samples 0.20), "
    "and freeing a routed batch 2.6 (its Records' feature dicts of 20 floats 0.63 of the 1.3 freed piecewise); "
    "group_metadata 0.02. So the loop and handler are ~5 us of ~27 in process and the frees another ~2.6: 0.5x "
    "pass-through still needs the router (and the objects it makes a record) halved. **What changed:** the handler "
    "picks the records to store with one outcome test a record when auto-labels are not stored (the default) and "
    "makes each StoredRecord with the slot constructor; committed counts with comprehensions; the router (auto-label "
    "ids, labels, confidences, the finite check), the engine (outcomes for the drift monitor) and decide_many "
    "(labels, confidences) read their columns with comprehensions instead of attrgetter maps. In CPython 3.11 a "
    "comprehension's specialized slot loads beat attrgetter's getattr calls (main's form against the new, "
    "alternating on the same routed batches, us a record: store selection + StoredRecords 0.67 -> 0.40, committed "
    "0.66 -> 0.48, the (outcome, reason) pairs 0.34 -> 0.25, the auto-labels' classes 0.40 -> 0.14, ids 0.19 -> "
    "0.13, confidences 0.12 -> 0.05, the finite sums 0.39 -> 0.32), so some of the 2026-12-02 map/attrgetter "
    "rewrites were no gain on slotted objects; maps of C methods (Message getters, dict.get) stay. The same "
    "outputs: tests/labeler/test_handler_counts.py (the StoredRecords equal and byte-identical in to_json against "
    "the test a record and StoredRecord(...) before, for every store setting; the metrics calls as before), "
    "tests/core 348 passed, tests/labeler 19 passed. **Figures:** valgrind's instructions a record of the handler "
    "path (`nice -n 10 .venv/bin/python bench/router_instructions.py --records 5000 --stage handler --code TREE`, "
    "09:18-09:30, the three trees at once; load does not move it): main 151,709, the handler change 148,684 "
    "(-2.0 %), both changes 146,610 (-3.4 %); the router alone (`... --records 3000 --code TREE`, 09:39-09:46) main "
    "116,197, the branch 113,716 (-2.1 %). The probe cannot resolve that: `bench/labeler_probe.py max-rate "
    "--records 300000`, main (A, a `git archive` of 746608f on PYTHONPATH) against the branch (B), 10 interleaved "
    "pairs, each run under the quiet lock at nice 5, us CPU a record: 32.8 / 29.3, 42.9 / 35.6, 44.1 / 40.6, "
    "34.5 / 41.0, 39.3 / 46.9, 44.7 / 43.1 (08:58-09:08, load 3.6-11: others' tests and simulations), 35.0 / "
    "44.8, 51.4 / 31.9, 46.9 / 50.1, 37.9 / 45.1 (09:30-09:37, load 1.0-3.0): medians A 41.1, B 42.1, B lower in "
    "5 of 10; this machine's speed swung 2x within a minute (`labelstream bench hot-path`, the same code at 09:11 "
    "and 09:12: 16.8 and 30.2 us a record). **Did not pay:** the origins' timestamps divided in C when every "
    "message has one (map(truediv), 0.40 -> 0.39 us: the tuples are the cost, not the division); the event times "
    "by map(attrgetter) (0.025 -> 0.054 us: slower than the comprehension); not tried, by the figures above: "
    "produce_many through starmap (the client's produce is ~0.9 of its ~1 us), next_offsets in NumPy (~0.25 us to "
    "win), observe_batch in bulk (prometheus_client has none; summing in another order changes the float sum)."
)

SCALING_NOTE = (
    "Why two labelers left 0.40 cores idle in the 15:16 run (1.46 ×; issue 14, 2026-12-02), and what changed. The "
    "window was taken on the sum of the committed offsets (20 % -> 90 % of all records): a labeler that started late "
    "or finished early worked alone inside it, its idle partner counted as two labelers' time. It happens: of four "
    "two-labeler runs at 18:23, one had a labeler 38k records behind the other (2.3 s with both at work, against ~5 s "
    "in the others). The window is now taken on each partition (it opens once every partition has 20 % of its "
    "records committed and closes once one has 90 %), on 400k records (200k left ~2 s at 70k/s), and the note gives "
    "each labeler's CPU wait (runnable but not running, /proc/<pid>/task/*/schedstat) and the machine's CPU "
    "pressure: idle cores with labelers that did not wait for one mean something else held them. Not reproduced "
    "18:00-18:50: this machine was ~2.8 × slower a record than at 15:21 (`labelstream bench hot-path` 25.6 µs "
    "against 9.2), and two labelers filled it (97-98 % busy, each waiting for a CPU 0.6-0.9 s a second). A second "
    "possible source on a faster CPU: per 2,000-record transaction, waiting for Redis, send_offsets and the commit "
    "took 25-40 % of each labeler's time here (~40-60 ms), 0-6 % of it not covered by routing the next batch ahead "
    "(`.venv/bin/python bench/scaling_probe.py --instances 2 --records 200000`, its traces); routing 2,000 records "
    "at the 15:21 speed takes ~40 ms, less than those waits unless they shrink alike; the next quiet run's CPU "
    "waits will tell. Did not pay: batch_size 10000 (transactions bounded by commit_interval_ms alone): two "
    "labelers 30.3k against 28.4k records/s (medians of 4 interleaved runs of the probe, 18:32-18:40), the broker "
    "~25 % less CPU, but at 10k/s p50 213-297 ms against 111-114 and p99 871-1,026 against 595-616 "
    "(`bench/labeler_probe.py latency --rate 10000 --seconds 15 --rounds 2 base: bs10k:batch_size=10000`, 18:50): "
    "not used."
)


HOT_PATH_V2_NOTE = (
    "Where the labeler's time goes (issue 14, 2026-12-02, `.venv/bin/python bench/labeler_probe.py max-rate --records 300000 "
    "--profile F`, and `... latency` for the A/B pairs; load 1-3 from other jobs). **CPU at full speed:** 17,602 records/s at 38.5 us CPU a record (01:25, the machine 100 % busy: niced jobs of others took the idle core; at 01:08, load 2: 20.0k/s at 48.9 us, 23.7k/s at 40.9 us with py-spy attached). "
    "The Kafka client is not the cost: librdkafka's own threads (fetch, lz4, produce batching) used 0.03 cores, the "
    "Python threads 0.58 (0.93-0.94 at 01:08); the labeler is bound by the one core its GIL allows. Of the samples of the thread holding the "
    "GIL, 78 % were routing in the pure core (BatchRouter.route: decode 19 %, predict 17 % of which the feature "
    "matrix 12, featurize 14, decide 6, dedupe 5, drift monitor 4, encode ~7), 23 % the loop's own thread (fetch, "
    "produce_many 2 %, Redis stores 2 %, commit and counting 5 %, and ~8 % at the loop's idle line: GIL hand-offs). Hence 0.5x pass-through (~12 us a record) is out of reach while the pure core's Python stages "
    "alone cost more than that (the hot-path table: 16 us best case); what is left in the transaction loop and handler "
    "is a fifth. **Latency at 1k/s:** on the quieter machine at 01:03-01:08 the labeler's p99 was 38-51 ms (after 2 s: "
    "27-47), the transactional pass-through floor's 38-39 ms at 00:54-00:56 (after 2 s 34-36; load 4): the labeler "
    "is at the floor, which is above the 20 ms target on this machine. Its tail (the trace): a send_offsets_to_transaction "
    "of 40-53 ms or a commit of 12-21 ms now and then, Kafka's transaction calls on a 2-core machine whose broker "
    "takes 0.6-0.7 cores at 1k/s (about 1,000 produce requests and as many fetches a second, ~200 transactions); "
    "nothing the labeler waits for needlessly. The 98 ms of the 23:27 run was that machine's moment. "
    "**At 10k/s** a record waits for the transaction being collected and its own: cycles of 12-24 ms (median), "
    "routing ~200 records ~10 ms of it, so p50 24-47 ms and p99 99-171 ms (after 2 s 93-172) in 4 runs of the "
    "default against a floor of 44-57 ms; "
    "at ~45 us a record the routing is what to cut. "
    "**Ideas that did not pay** (interleaved pairs, same measurement): min_transaction_gap_ms 10 at 1k/s: p99 34 / 41 "
    "/ 45 ms vs 38 / 43 / 46 without (after 2 s 28 / 29 / 24 vs 27 / 32 / 28), p50 12 vs 8-9 ms, but the labeler "
    "0.33 vs 0.46 cores and the broker 0.53 vs 0.67 (fewer, fuller transactions: worth it where CPU is short, not "
    "for p99; 20 ms: p99 36-44, p50 19); and, each with a temporary patch of the loop not kept: the labeler's "
    "sys.setswitchinterval 1 ms (10k/s p99 155 / 152 vs 171 / 147 ms), committing a batch that begins with the "
    "records routed ahead at once instead of fetching on (10k/s p50 45 / 40 vs 36 / 24 ms: those records wait out "
    "the commit anyway), the producer's retry.backoff.max.ms 10 instead of 200 (1k/s p99 after 2 s 38 / 51 / 80 vs "
    "35 / 42 / 47 ms), the labeler's consumer holding fetches for 1 MB or 5 ms (1k/s p99 after 2 s 79 / 56 vs "
    "81 / 51 ms, the broker 0.04-0.07 cores less; as in the note above)."
)

def throughput_markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "## Throughput and latency",
        "",
        f"`{r['command']}` — {m['date']}, {m['machine']}, {m['cpus']} CPUs, Python {m['python']}, "
        "one local Kafka 4.1 broker (KRaft) on the same machine.",
        "",
        "| path | records | records/s (median) | each round | CPU µs / record | RSS MiB (peak) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    rows = (
        ("pass-through (confluent-kafka, parse + produce)", "passthrough"),
        ("**labeler** (transactions, default model + contract policy)", "labeler"),
        ("Quix Streams 3.28 peer (same model, exactly-once, 100 ms commits)", "peer"),
        ("faust agent pass-through (one round)", "faust"),
    )
    for name, key in rows:
        x = r.get(key)
        if x is None:
            continue
        cpu = "-" if x.get("cpu_us_per_record") is None else f"{x['cpu_us_per_record']:.1f}"
        each = ", ".join(f"{v:,.0f}" for v in x.get("rounds_records_per_second", [x["records_per_second"]]))
        rss = "-" if x.get("rss_mb") is None else f"{x['rss_mb']:.0f} ({x['peak_rss_mb']:.0f})"
        lines.append(f"| {name} | {x['records']} | {x['records_per_second']:,.0f} | {each} | {cpu} | {rss} |")
    mix = r["labeler"].get("routing") or {}
    peer = r.get("peer", {}).get("routing") or {}
    lines += [
        "",
        f"**labeler / pass-through = {r['labeler_vs_passthrough']:.2f}** (target ≥ 0.5)"
        + (f"; **labeler / Quix Streams peer = {r['labeler_vs_peer']:.2f}** (target ≥ 1.5)" if "labeler_vs_peer" in r else "")
        + f" — medians over {r['config'].get('repeat', 1)} interleaved rounds of the ratio within a round.",
        "",
        f"Workload: {r['config']['records']:,} records of 20 numeric features and a categorical; the warm model learned "
        f"4,000 answered records with {r['config'].get('noise', 0.1):.0%} label noise, so that the contract (precision target 0.95) "
        "vouches for most records, as a labeler in service does. The labeler routed "
        + ", ".join(f"{share:.1%} {outcome}" for outcome, share in mix.items())
        + (f"; the peer (fixed confidence threshold 0.9) {peer.get('label', 0):.1%} to labels." if peer else ".")
        + " RSS: the labeler process at the end of the run, at the rate in the table.",
        "",
    ]
    if "peer" in r and r["peer"].get("cpu_us_per_record") and r["labeler"].get("cpu_us_per_record"):
        lines += [
            f"CPU a record: the labeler {r['labeler']['cpu_us_per_record']:.1f} µs, the peer {r['peer']['cpu_us_per_record']:.1f} µs: "
            f"the labeler does the job with **{r['peer']['cpu_us_per_record'] / r['labeler']['cpu_us_per_record']:.2f} ×** less CPU "
            "(medians over the rounds; CPU time depends less on what else runs than records/s does).",
            "",
        ]
    busy = r["labeler"].get("machine_busy")
    if busy is not None and busy >= 0.9:
        load = r.get("load_average")
        lines += [
            f"**A busy machine:** its CPUs were {busy:.0%} busy during the labeler's runs"
            + (f" (load average {load[0]:.1f} on {m['cpus']} CPUs at the end)" if load else "")
            + ": other work shared them, so the rates and latencies below are the machine's more than the labeler's; "
            "compare the ratios within a round and the CPU a record, and rerun on a quiet machine for absolute figures.",
            "",
        ]
    lines += [
        "| offered rate | outcomes | p50 ms | p95 ms | p99 ms | max ms | p99 to the outcome produced | p99 then to visible "
        "| p99 after the first 2 s | floor p50 / p99 ms | floor p99 after 2 s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def part(x: dict[str, Any], key: str) -> str:
        return f"{x[key]['p99_ms']}" if key in x else "-"

    for rate, x in r["latency"].items():
        floor = f"{x['floor']['p50_ms']} / {x['floor']['p99_ms']}" if "floor" in x else "-"
        lines.append(
            f"| {int(rate):,}/s | {x['n']} | {x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | {x.get('max_ms', '-')} "
            f"| {part(x, 'to_outcome')} | {part(x, 'outcome_to_visible')} | {part(x, 'steady')} | {floor} "
            f"| {part(x.get('floor', {}), 'steady')} |"
        )
    u = r["model_update"]
    traced = [(rate, x["transactions"]) for rate, x in r["latency"].items() if x.get("transactions", {}).get("transactions")]
    lines += [""] + [
        f"The labeler's transactions at {int(rate):,}/s after the first 2 s (its `labeler.trace_file`): {describe_trace(t)}."
        for rate, t in traced
    ]
    cores = [(rate, x["cpu_cores"]) for rate, x in r["latency"].items() if x.get("cpu_cores")]
    lines += [""] + [
        f"CPU while {int(rate):,}/s was offered, in cores of the {m['cpus']}: the labeler {c['labeler']}, the broker "
        f"{c.get('broker', '-')}, the benchmark's producer and reader {c['bench']}; the whole machine {c['machine']}."
        for rate, c in cores
    ]
    lines += [
        "",
        "Latency: record produced → its outcome visible to a `read_committed` consumer (targets: p99 ≤ 20 ms at 1k/s, ≤ 50 ms at 10k/s). "
        "Its two parts: until the labeler produced the outcome (the outcome message's timestamp: queueing, fetch, routing), "
        "then until a reader sees it (the rest of the transaction: send_offsets, commit, the markers, the reader's fetch). "
        "Floor: the same measurement through a transactional pass-through (consume what is queued, produce it, send the offsets, "
        "commit; no routing, `python -m labelstream.bench.passthrough transactional`): the part of the latency that is Kafka's "
        "transactions and the measurement's, on this machine at that moment. \"After the first 2 s\": the records produced "
        "from 2 s into the run on: steady state, without what the start from idle adds (the producer's first transactions "
        "and outcome-topic metadata, a backlog the first stall leaves). The measuring producer sends at the offered rate, "
        "waking at most once a millisecond (records sent on time or up to 1 ms late, each stamped when sent; linger 1 ms), "
        "and the reader's idle fetches wait up to 20 ms (answered as soon as a commit makes outcomes visible).",
        "",
        LATENCY_NOTE,
        "",
        HOT_PATH_V2_NOTE,
        "",
        ROUTER_GROWTH_NOTE,
        "",
        COLUMNAR_NOTE,
        "",
        GAP_NOTE,
        "",
        MAPPED_IN_C_NOTE,
        "",
        LOOP_AND_HANDLER_NOTE,
        "",
        f"Correction → new model version live in the labeler: p50 {u['p50_ms']} ms, p95 {u['p95_ms']} ms over {u['n']} corrections (target p95 ≤ 1000 ms).",
        "",
    ]
    lines += [scaling_markdown(r["scaling"], m["cpus"] or 2), "", SCALING_NOTE]
    return "\n".join(lines)
