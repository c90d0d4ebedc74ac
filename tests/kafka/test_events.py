"""The events publisher: what it publishes reaches the topic; with no broker its client lines reach the log, a run
of like lines once a window, instead of stderr."""

from __future__ import annotations

import logging
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from labelstream.kafka.config import consumer_config
from labelstream.kafka.events import KAFKA_LOGGER, EventPublisher
from labelstream.settings import load_settings
from stack_support import closed_port


@pytest.mark.integration
def test_a_published_event_is_on_the_topic(settings_factory):
    settings = settings_factory(partitions=1)
    events = EventPublisher(settings, "test")
    events.publish("rollback", version=3)
    assert events.flush(30) == 0
    consumer = Consumer(consumer_config(settings.kafka, "test-events"))
    consumer.assign([TopicPartition(settings.topics.events, 0, 0)])
    try:
        message = None
        deadline = time.monotonic() + 30
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
        assert message is not None and message.error() is None
        assert message.key() == b"rollback" and b'"version":3' in message.value()
    finally:
        consumer.close()


def test_with_no_broker_its_client_lines_reach_the_log_once_a_window(caplog, capfd):
    """No one else serves an events producer between events: before its poll thread, ~5 failed-connection lines a
    second went to stderr from every labeler and learner waiting for the broker."""
    port = closed_port()
    caplog.set_level(logging.INFO, logger=KAFKA_LOGGER)
    events = EventPublisher(load_settings(kafka={"bootstrap_servers": f"localhost:{port}"}), "test")
    time.sleep(4)
    events.flush(0)
    lines = [r.getMessage() for r in caplog.records if r.name == KAFKA_LOGGER]
    failed = [line for line in lines if line.startswith("FAIL") and f":{port} failed" in line]
    assert len(failed) == 1, lines  # the first as it happens; the rest of the 4 s held back (10 s window)
    assert f":{port} failed" not in capfd.readouterr().err  # none on stderr
