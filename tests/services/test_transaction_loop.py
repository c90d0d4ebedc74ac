"""The labeler's transaction loop on the real broker and Redis: a batch that cannot commit never blocks the stream.

The labeler runs in this process (so that a test can inject a failure into its
producer); everything else is real: a message the broker refuses, the topics,
Redis, the committed offsets.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import time

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException, Producer

from labeler_support import RunningLabeler, limit_message_bytes
from labelstream.kafka.config import producer_config
from labelstream.kafka.outcomes import read_ledger
from labelstream.labeler import Labeler
from labelstream.labeler.loop import ROUTE_AHEAD_MIN
from labelstream.labeler.trace import PHASES, summarize
from labelstream.store.connection import connect
from labelstream.store.records import RecordStore

pytestmark = pytest.mark.integration


def record(record_id: str, text: str | None = None) -> bytes:
    payload = {"id": record_id, "features": {"x0": 0.3, "x1": -1.2, "colour": "red"}}
    if text is not None:
        payload["text"] = text
    return orjson.dumps(payload)


def produce(settings, values: list[tuple[bytes, bytes]], partition: int = 0) -> None:
    producer = Producer(producer_config(settings.kafka))
    for key, value in values:
        producer.produce(settings.topics.records, key=key, value=value, partition=partition)
    assert producer.flush(30) == 0


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def routed_all(settings, ids: set[str]):
    def check():
        ledger = read_ledger(settings)
        return ledger if ids <= set(ledger.routing) and ledger.dead_letters else None

    return check


def outcome_total(labeler: Labeler) -> float:
    return sum(
        sample.value
        for family in labeler.metrics.registry.collect()
        if family.name == "labelstream_record_outcomes"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def test_an_outcome_the_broker_refuses_is_dead_lettered_by_reference(settings_factory):
    """The review topic takes at most 20 kB; a valid record with a 30 kB text cannot be published for review."""
    settings = settings_factory(partitions=1)
    limit_message_bytes(settings, [settings.topics.review], 20_000)
    rng = random.Random(1)
    big = record("big", "".join(rng.choice(string.ascii_letters) for _ in range(30_000)))  # lz4 cannot shrink it
    values = [(f"a{i}".encode(), record(f"a{i}")) for i in range(30)]
    values += [(b"big", big)]
    values += [(f"b{i}".encode(), record(f"b{i}")) for i in range(30)]
    with RunningLabeler(settings) as labeler:
        produce(settings, values)
        ledger = wait_for(routed_all(settings, {v[0].decode() for v in values} - {"big"}), 90, "every other record routed")
        time.sleep(1)
        counted = outcome_total(labeler)
        retries = labeler.metrics.value("labelstream_batch_retries_total", reason="poison")
        review_counter = RecordStore.from_settings(connect(settings.redis), settings).review_backlog()
    ledger = read_ledger(settings)
    assert ledger.duplicated() == {}
    assert set(ledger.routing) == {v[0].decode() for v in values} - {"big"}
    assert all(outs == ["review"] for outs in ledger.routing.values())  # no model yet: cold start
    [letter] = ledger.dead_letters
    assert (letter["error_kind"], letter["truncated"], letter["partition"], letter["offset"]) == ("unpublishable", True, 0, 30)
    assert letter["size"] == len(big) and letter["sha256"] == hashlib.sha256(big).hexdigest()
    assert big.startswith(base64.b64decode(letter["raw"]))
    assert "Message size too large" in letter["error"]
    assert retries >= 1  # the refused review named alone (after bisecting, if its producer batch held others)
    # The aborted batch was counted once, after its commit: outcomes and the Redis review counter.
    assert counted == len(values) - 1
    assert review_counter == len(values) - 1


class FailsOnMarker(Producer):
    """A real producer whose commit fails, abortably and without naming a message, while the transaction
    holds a non-DLQ message containing the marker (an injected failure)."""

    marker = b"poison-marker"
    dlq = ""

    def begin_transaction(self, *args):
        self.poisoned = False
        return super().begin_transaction(*args)

    def produce(self, topic, value=None, key=None, **kwargs):
        if value and self.marker in value and topic != self.dlq:
            self.poisoned = True
        return super().produce(topic, value=value, key=key, **kwargs)

    def commit_transaction(self, *args):
        if getattr(self, "poisoned", False):
            raise KafkaException(KafkaError(KafkaError._INVALID_ARG, "injected: rejected", txn_requires_abort=True))
        return super().commit_transaction(*args)


def test_a_batch_failing_without_a_culprit_is_bisected_to_the_record(settings_factory):
    settings = settings_factory(partitions=1, labeler={"batch_size": 64})
    FailsOnMarker.dlq = settings.topics.dlq
    values = [(f"r{i}".encode(), record(f"r{i}")) for i in range(200)]
    values[77] = (b"poison-marker", record("poison-marker"))
    with RunningLabeler(settings, producer_factory=FailsOnMarker) as labeler:
        produce(settings, values)
        wait_for(routed_all(settings, {v[0].decode() for v in values} - {"poison-marker"}), 120, "every other record routed")
        time.sleep(1)
        counted = outcome_total(labeler)
        bisects = labeler.metrics.value("labelstream_batch_retries_total", reason="bisect")
        committed_after = labeler.loop.state.batches_committed
    ledger = read_ledger(settings)
    assert ledger.duplicated() == {}
    assert set(ledger.routing) == {v[0].decode() for v in values} - {"poison-marker"}
    [letter] = ledger.dead_letters
    assert (letter["error_kind"], letter["offset"], letter["truncated"]) == ("unpublishable", 77, True)
    assert "failed 3 times" in letter["error"]
    assert bisects >= 3  # 64 -> 32 -> ... -> 1, then the record alone
    assert counted == len(values) - 1
    assert committed_after > 3


def test_the_labeler_exports_lf_series_and_counts_evolved_records_once(settings_factory):
    """weak.functions set: the LF series are on /metrics; records from an evolved producer are counted after the commit."""
    settings = settings_factory(partitions=1, weak={"functions": ["labelstream.simulate.benchmark_lfs:sea"]})
    values = [orjson.dumps({"id": f"r{i}", "features": {"0": 9.0, "1": 1.0, "2": 1.0}}) for i in range(4)]
    values.append(orjson.dumps({"id": "e1", "features": {"0": 1.0}, "shop": "s1"}))
    values.append(orjson.dumps({"id": "e2", "features": {"0": 1.0}, "schema_version": "1.2"}))
    produce(settings, [(orjson.loads(v)["id"].encode(), v) for v in values])
    with RunningLabeler(settings) as labeler:
        wait_for(lambda: outcome_total(labeler) == len(values), 60, "every record routed")
        metrics = labeler.metrics
        assert metrics.value("labelstream_records_evolved_total") == 2
        assert metrics.value("labelstream_lf_votes_total", lf="x0_large") == 4  # "0" > 8.5: the first four records
        assert metrics.value("labelstream_lf_votes_total", lf="both_small") == 2  # the evolved ones


def test_a_record_id_sent_again_is_dead_lettered_not_routed_twice(settings_factory, tmp_path):
    """labeler.dedupe_window: the second copy of an id (a later batch, another offset) is a duplicate_id dead letter.
    With labeler.trace_file, a line a committed transaction says its records and where its time went."""
    settings = settings_factory(partitions=1)
    trace = tmp_path / "trace.jsonl"
    settings = settings.model_copy(update={"labeler": settings.labeler.model_copy(update={"trace_file": str(trace)})})
    first = [(f"d{i}".encode(), record(f"d{i}")) for i in range(5)]
    with RunningLabeler(settings) as labeler:
        produce(settings, first)
        wait_for(lambda: outcome_total(labeler) == 5, 60, "the first copies routed")
        produce(settings, [first[2], (b"d9", record("d9"))])
        ledger = wait_for(routed_all(settings, {"d9"}), 60, "the second copy dead-lettered")
        assert labeler.metrics.value("labelstream_records_invalid_total", error_kind="duplicate_id") == 1
        committed = labeler.loop.state.batches_committed
    assert all(len(ledger.routing[f"d{i}"]) == 1 for i in (0, 1, 2, 3, 4, 9))
    lines = [orjson.loads(line) for line in trace.read_bytes().splitlines()]
    assert len(lines) == committed and sum(line["records"] for line in lines) == 7
    assert all(line["oldest_s"] >= line["youngest_s"] and sum(n for n, _ms in line["chunks"]) == line["records"] for line in lines)
    assert set(lines[0]["ms"]) == set(PHASES) and summarize(trace, batch_size=2000)["transactions"] == committed
    (letter,) = ledger.dead_letters
    assert (letter["error_kind"], letter["offset"], base64.b64decode(letter["raw"])) == ("duplicate_id", 5, first[2][1])
    assert "offset 2" in letter["error"]


def test_a_transaction_begins_at_least_the_gap_after_the_one_before(settings_factory, tmp_path):
    """labeler.min_transaction_gap_ms: records that come during the gap join the next transaction."""
    settings = settings_factory(partitions=1)
    trace = tmp_path / "trace.jsonl"
    labeler_settings = settings.labeler.model_copy(update={"trace_file": str(trace), "min_transaction_gap_ms": 300})
    settings = settings.model_copy(update={"labeler": labeler_settings})
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
    with RunningLabeler(settings) as labeler:
        for i in range(12):  # one record every 0.05 s: back to back, a transaction each
            producer.produce(settings.topics.records, key=f"g{i}".encode(), value=record(f"g{i}"), partition=0)
            assert producer.flush(10) == 0
            time.sleep(0.05)
        wait_for(lambda: outcome_total(labeler) == 12, 60, "every record routed")
    began = [orjson.loads(line)["at"] for line in trace.read_bytes().splitlines()]
    assert len(began) < 12
    assert all(later - earlier >= 0.295 for earlier, later in zip(began, began[1:], strict=False))


class FailsFirstCommits(Producer):
    """A real producer whose first commits fail abortably (injected); before failing, it reads the relabel
    queue, while the batch's records are in Redis and its outcomes not committed."""

    failures = 0
    queue_while_uncommitted: list[set[str]] = []
    store: RecordStore | None = None

    def commit_transaction(self, *args):
        if FailsFirstCommits.failures > 0:
            FailsFirstCommits.failures -= 1
            FailsFirstCommits.queue_while_uncommitted.append(set(FailsFirstCommits.store.deferred_ids()))
            raise KafkaException(KafkaError(KafkaError._INVALID_ARG, "injected: rejected", txn_requires_abort=True))
        return super().commit_transaction(*args)


def test_deferred_records_join_the_relabel_queue_only_once_committed(settings_factory):
    """A record in the relabel queue before its deferred outcome commits could be relabeled, then routed and
    relabeled again after the redo (two relabels, seen in the rebalance fault test): it is queued after the commit."""
    settings = settings_factory(partitions=1, policy={"review_budget_share": 0.001})
    store = RecordStore.from_settings(connect(settings.redis), settings)
    FailsFirstCommits.failures, FailsFirstCommits.queue_while_uncommitted, FailsFirstCommits.store = 2, [], store
    values = [(f"q{i}".encode(), record(f"q{i}")) for i in range(40)]
    with RunningLabeler(settings, producer_factory=FailsFirstCommits):
        produce(settings, values)
        ledger = wait_for(lambda: len((lg := read_ledger(settings)).routing) == len(values) and lg, 60, "every record routed")
        deferred = {i for i, outs in ledger.routing.items() if outs == ["deferred"]}
        queued = wait_for(lambda: (q := set(store.deferred_ids())) >= deferred and q, 30, "the deferred records queued")
    assert len(FailsFirstCommits.queue_while_uncommitted) == 2 and deferred
    assert FailsFirstCommits.queue_while_uncommitted == [set(), set()]  # stored in Redis, not queued yet
    assert ledger.duplicated() == {} and queued == deferred


class FailsSecondCommit(Producer):
    """A real producer whose second commit fails once, the broker away for a moment (transient: abort,
    back off, redo)."""

    commits = 0

    def commit_transaction(self, *args):
        FailsSecondCommit.commits += 1
        if FailsSecondCommit.commits == 2:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "injected: broker away", retriable=True, txn_requires_abort=True))
        return super().commit_transaction(*args)


@pytest.mark.parametrize("batch_size", [100, 20], ids=["routed-ahead", "fetched-ahead"])
def test_a_batch_routed_ahead_of_a_failed_commit_is_kept_not_routed_again(settings_factory, batch_size):
    """While a batch commits, the next one is routed on a helper thread (or, under ROUTE_AHEAD_MIN records,
    only fetched); when the commit fails, both are rewound and redone with the outcomes they had: each record
    is routed (budget, drift, dedupe) and counted once."""
    settings = settings_factory(partitions=1, labeler={"batch_size": batch_size})
    FailsSecondCommit.commits = 0
    values = [(f"p{i}".encode(), record(f"p{i}")) for i in range(400)]
    produce(settings, values)  # all queued before the labeler starts: the first batch's commit has a next one to route
    routed: list[str] = []
    remembered: list[int] = []
    with RunningLabeler(settings, producer_factory=FailsSecondCommit) as labeler:
        route, remember = labeler.handler.router.route, labeler.handler.remember
        labeler.handler.router.route = lambda values_, keys, origins: (routed.extend(k.decode() for k in keys), route(values_, keys, origins))[1]
        labeler.handler.remember = lambda messages, outputs: (remembered.extend(m.offset() for m in messages), remember(messages, outputs))[1]
        ledger = wait_for(lambda: len((lg := read_ledger(settings)).routing) == len(values) and lg, 60, "every record routed")
        time.sleep(0.5)
        counted = outcome_total(labeler)
        retries = labeler.metrics.value("labelstream_batch_retries_total", reason="broker")
    assert ledger.duplicated() == {} and set(ledger.routing) == {v[0].decode() for v in values}
    assert retries == 1
    assert min(remembered) == batch_size  # the failed (second) batch
    if batch_size >= ROUTE_AHEAD_MIN:
        assert max(remembered) >= 2 * batch_size  # what was routed ahead was kept too
    else:
        assert max(remembered) == 2 * batch_size - 1  # fetched ahead, not routed: rewound, nothing to keep
    assert sorted(routed) == sorted(v[0].decode() for v in values)  # nothing routed twice
    assert counted == len(values)


class PendingErrorAtCommit(Producer):
    """A real producer whose second commit raises the ``SystemError`` of an exception a client callback left
    pending, before or after the broker committed (both happen: it surfaces at whatever call comes next)."""

    commits = 0
    after = True

    def commit_transaction(self, *args):
        PendingErrorAtCommit.commits += 1
        if PendingErrorAtCommit.commits != 2:
            return super().commit_transaction(*args)
        if PendingErrorAtCommit.after:
            super().commit_transaction(*args)
        raise SystemError("<built-in method __format__ of KafkaError object> returned a result with an exception set")


@pytest.mark.parametrize("after", [True, False], ids=["after-the-commit", "before-the-commit"])
def test_a_pending_client_exception_gives_the_batch_up_and_the_labeler_goes_on(settings_factory, after):
    """The labeler once exited on such a ``SystemError`` after a broker outage (tests/faults/test_outages.py):
    now the batch is given up and a new consumer resumes at the committed offsets. A batch the broker did
    commit is not redone (no duplicate); one it did not is (nothing lost)."""
    settings = settings_factory(partitions=1, labeler={"batch_size": 50})
    PendingErrorAtCommit.commits, PendingErrorAtCommit.after = 0, after
    values = [(f"s{i}".encode(), record(f"s{i}")) for i in range(300)]
    produce(settings, values)
    runner = RunningLabeler(settings, producer_factory=PendingErrorAtCommit)
    with runner as labeler:
        wait_for(lambda: len(read_ledger(settings).routing) == len(values), 90, "every record routed")
        time.sleep(1.0)  # a duplicate would land now
        ledger = read_ledger(settings)
        retries = labeler.metrics.value("labelstream_batch_retries_total", reason="consumer")
        alive = runner.thread.is_alive()
    assert PendingErrorAtCommit.commits > 2 and alive
    assert ledger.duplicated() == {} and set(ledger.routing) == {v[0].decode() for v in values}
    assert retries == 1
