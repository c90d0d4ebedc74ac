"""RepeatFilter: a flood of like messages becomes one line per window that counts what it held back."""

from __future__ import annotations

import logging

from labelstream.log_repeats import RepeatFilter


def record(msg: str, name: str = "aiokafka.client", *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args or None, None)


def test_a_flood_passes_once_a_window_and_counts_what_it_held_back():
    clock = [0.0]
    quiet = RepeatFilter(window_seconds=10, clock=lambda: clock[0])
    passed = []
    for i in range(4000):  # 4,000 a second for 2.5 s, as the learner's client in an outage
        clock[0] = i / 4000 * 2.5
        rec = record("Unable connect to node with id %s: %s", "aiokafka.client", 1, "refused")
        if quiet.filter(rec):
            passed.append(rec.getMessage())
    clock[0] = 12.0
    rec = record("Unable connect to node with id %s: %s", "aiokafka.client", 1, "refused")
    assert quiet.filter(rec)
    assert passed == ["Unable connect to node with id 1: refused"]
    assert rec.getMessage() == "Unable connect to node with id 1: refused (3999 like it held back in the last 10 s)"


def test_other_templates_and_loggers_are_not_held_back():
    quiet = RepeatFilter(window_seconds=10, clock=lambda: 0.0)
    assert quiet.filter(record("Unable to update metadata from %r", "aiokafka.client", [1]))
    assert quiet.filter(record("Failed fetch messages from %s: %s", "aiokafka.consumer.fetcher", 1, "x"))
    assert quiet.filter(record("Unable to update metadata from %r", "aiokafka.conn", [1]))
    assert not quiet.filter(record("Unable to update metadata from %r", "aiokafka.client", [2]))


def test_librdkafka_lines_are_alike_by_facility_client_and_text_but_numbers():
    from labelstream.log_repeats import librdkafka_key

    quiet = RepeatFilter(window_seconds=10, clock=lambda: 0.0, key=librdkafka_key)

    def line(facility: str, client: str, text: str) -> logging.LogRecord:
        return record("%s [%s] %s", "labelstream.labeler.kafka", facility, client, text)

    assert quiet.filter(line("FAIL", "rdkafka#consumer-2", "localhost:9092/1: Connect failed (after 0ms in state CONNECT)"))
    assert not quiet.filter(line("FAIL", "rdkafka#consumer-2", "localhost:9092/1: Connect failed (after 12ms in state CONNECT)"))
    assert quiet.filter(line("FAIL", "rdkafka#consumer-3", "localhost:9092/1: Connect failed (after 0ms in state CONNECT)"))
    assert quiet.filter(line("SESSTMOUT", "rdkafka#consumer-2", "Consumer group session timed out"))
    assert quiet.filter(line("FAIL", "rdkafka#consumer-2", "localhost:9092/1: Disconnected"))
