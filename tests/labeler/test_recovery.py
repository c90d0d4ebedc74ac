"""What a failed batch leads to, without a broker: bisect, back off, dead-letter a record that fails alone.

The consumer and the producer are real clients pointed at a port nobody
listens on: nothing is assigned (a rewind is a no-op) and the broker never
answers, which is what the single-record rule must see before it gives up on
a record. The handler records what the loop asks of it.
"""

from __future__ import annotations

import threading

from confluent_kafka import Message

from labelstream.labeler.batch import Batch, RetryLater
from labelstream.labeler.consumer import GroupConsumer
from labelstream.labeler.health import LoopState
from labelstream.labeler.recovery import MAX_BACKOFF, MIN_BACKOFF, SINGLE_RECORD_ATTEMPTS, Recovery
from labelstream.labeler.transactions import TransactionFailed, Transactions
from labelstream.settings import Settings


class Recorder:
    """Keeps what :class:`Recovery` hands the handler."""

    def __init__(self) -> None:
        self.remembered: list[int] = []
        self.replaced: list[str] = []

    def replace(self, message, output, reason):
        self.replaced.append(reason)
        return f"dead letter of {message.offset()}"

    def remember(self, messages, outputs):
        self.remembered.append(len(messages))

    def forget(self, partitions):
        pass


def recovery(batch_size: int = 8) -> tuple[Recovery, Recorder, list[str], LoopState]:
    settings = Settings(kafka={"bootstrap_servers": "127.0.0.1:1"})
    transactions = Transactions({"bootstrap.servers": "127.0.0.1:1"})
    handler, retries, state = Recorder(), [], LoopState()
    consumer = GroupConsumer(settings, "0", transactions, handler, state, retries.append)
    return Recovery(transactions, consumer, handler, state, retries.append, batch_size, threading.Event()), handler, retries, state


def batch(size: int) -> Batch:
    messages = [Message(topic="records", partition=0, offset=offset) for offset in range(size)]
    return Batch(messages=messages, outputs=[f"out {offset}" for offset in range(size)])


def test_an_unattributed_abortable_failure_halves_the_next_batches_and_commits_grow_them_back():
    rec, handler, retries, state = recovery(batch_size=8)
    rec.failed(batch(8), TransactionFailed("abortable", None, "commit_transaction"))
    assert rec.limit == 4 and rec.bisecting and rec.backoff == 0.0
    assert retries == ["bisect"] and handler.remembered == [8] and state.failing_since is not None
    rec.failed(batch(4), TransactionFailed("abortable", None, "commit_transaction"))
    assert rec.limit == 2
    rec.committed()
    assert rec.limit == 4
    rec.committed()
    assert rec.limit == 8 and not rec.bisecting
    rec.committed()
    assert rec.limit == 8


def test_an_outage_doubles_the_backoff_up_to_the_bound_and_a_commit_resets_it():
    rec, _handler, retries, _state = recovery()
    waits = []
    for _ in range(8):
        rec.failed(batch(3), TransactionFailed("transient", None, "send_offsets_to_transaction"))
        waits.append(rec.backoff)
    assert waits[:3] == [MIN_BACKOFF, 2 * MIN_BACKOFF, 4 * MIN_BACKOFF] and waits[-1] == MAX_BACKOFF
    assert set(retries) == {"broker"} and rec.limit == 8
    rec.failed(batch(3), RetryLater("redis is down"))
    assert retries[-1] == "redis"
    rec.committed()
    assert rec.backoff == 0.0


def test_a_rebalance_or_a_reset_sequence_is_redone_at_once():
    rec, _handler, retries, _state = recovery()
    rec.failed(batch(3), TransactionFailed("rebalance", None, "send_offsets_to_transaction"))
    rec.failed(batch(3), TransactionFailed("redo", None, "commit_transaction"))
    assert retries == ["rebalance", "producer"] and rec.backoff == 0.0


def test_one_record_failing_alone_is_kept_while_the_broker_does_not_answer():
    rec, handler, retries, _state = recovery()
    alone = batch(1)
    for _ in range(SINGLE_RECORD_ATTEMPTS + 1):
        rec.failed(alone, TransactionFailed("abortable", None, "commit_transaction"))
        assert rec.backoff == MIN_BACKOFF  # it waits: the broker may be what fails
    assert handler.replaced == [] and alone.outputs == ["out 0"] and retries[-1] == "bisect"


def test_failing_later_counts_the_retry_and_backs_off():
    rec, _handler, retries, state = recovery()
    rec.failed_later("producer", "the broker does not answer (init_transactions)")
    assert retries == ["producer"] and rec.backoff == MIN_BACKOFF
    assert state.last_error == "the broker does not answer (init_transactions)" and state.retries == 1
