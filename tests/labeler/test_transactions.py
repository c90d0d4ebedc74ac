"""The transactional producer wrapper, without a broker: what ``produce_many`` queues and what it names refused."""

from __future__ import annotations

from typing import NamedTuple

from confluent_kafka import Producer

from labelstream.labeler.transactions import MessageRejected, Transactions
from stack_support import closed_port


class Out(NamedTuple):
    topic: str
    key: bytes
    value: bytes


class Recording(Producer):
    """A real client that notes the keys it queued (its len() also counts its own pending events)."""

    def produce(self, topic, value=None, key=None, *args, **kwargs):
        result = super().produce(topic, value, key, *args, **kwargs)
        self.queued.append(key)
        return result


def transactions(**config) -> tuple[Transactions, Recording]:
    # Nothing listens on port 1: messages stay queued in the client, which is all this test looks at.
    producer = Recording({"bootstrap.servers": "127.0.0.1:1", "linger.ms": 60_000, "log_level": 0, **config})
    producer.queued = []
    wrapper = Transactions({"bootstrap.servers": "127.0.0.1:1"}, factory=lambda _config: producer)
    wrapper._producer = producer  # as ensure_ready leaves it, minus init_transactions (no broker)
    return wrapper, producer


def test_produce_many_queues_in_order_and_names_what_the_client_refuses():
    wrapper, producer = transactions(**{"message.max.bytes": 2000})
    messages = [Out("t", b"a", b"x" * 10), Out("t", b"big", b"y" * 5000), Out("t", b"c", b"z" * 10)]
    refused = wrapper.produce_many(messages)
    assert list(refused) == [1] and isinstance(refused[1], MessageRejected)
    assert producer.queued == [b"a", b"c"]  # the two others are queued, in order; the transaction goes on without it
    producer.purge()


def test_produce_many_waits_for_room_when_the_queue_is_full():
    wrapper, producer = transactions(**{"queue.buffering.max.messages": 2})
    waited = []
    wrapper.produce = lambda topic, key, value: waited.append(key)  # the careful path (serves reports, retries)
    refused = wrapper.produce_many([Out("t", str(i).encode(), b"v") for i in range(4)])
    assert refused == {} and producer.queued == [b"0", b"1"] and waited == [b"2", b"3"]
    producer.purge()


def test_a_failed_init_serves_the_clients_log_lines(caplog, capfd):
    """With no broker, init_transactions waits; its client's failed connections (~9 a second on stderr before) go
    through the logger of the config once the wait is over, a run of like lines as one (10 s window)."""
    import logging

    from labelstream.labeler.consumer import KAFKA_LOGGER
    from labelstream.log_repeats import client_logger

    port = closed_port()
    caplog.set_level(logging.INFO, logger=KAFKA_LOGGER)
    wrapper = Transactions({"bootstrap.servers": f"localhost:{port}", "transactional.id": "t-log",
                            "logger": client_logger(KAFKA_LOGGER)})
    assert wrapper.ensure_ready(2.0) is False  # nothing listens
    failed = [r.getMessage() for r in caplog.records
              if r.name == KAFKA_LOGGER and r.getMessage().startswith("FAIL") and f":{port} failed" in r.getMessage()]
    assert len(failed) == 1, failed
    assert f":{port} failed" not in capfd.readouterr().err
