"""``labelstream produce``: publish a CSV or JSONL file to ``records``, validated row by row."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
from confluent_kafka import KafkaException, Producer

from labelstream.core.decode import DecodeError, RecordDecoder
from labelstream.core.schemas import DeadLetter
from labelstream.datafile import Row, open_rows
from labelstream.errors import ServiceUnavailable
from labelstream.kafka.config import producer_config
from labelstream.settings import Settings

T = TypeVar("T")


@dataclass
class ProduceReport:
    """What a produce run did."""

    sent: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)


def produce_file(
    settings: Settings,
    path: str | Path,
    id_column: str | None = None,
    label_column: str | None = None,
    text_column: str | None = None,
    source: str | None = None,
    dlq: bool = False,
    on_row: Callable[[Row], None] | None = None,
    rate: float | None = None,
    limit: int | None = None,
) -> ProduceReport:
    """Validate every row of ``path`` and publish the valid ones keyed by record id.

    ``rate`` paces publishing (rows per second; ``None``: as fast as possible);
    ``limit`` stops after that many rows.
    """
    rows: Iterable[Row] = open_rows(path, label_column=label_column, id_column=id_column, text_column=text_column)
    if limit is not None:
        rows = itertools.islice(rows, limit)
    if rate is not None:
        rows = paced(rows, rate)
    return produce_rows(settings, rows, source=source or Path(path).name, dlq=dlq, on_row=on_row)


def paced(items: Iterable[T], per_second: float) -> Iterator[T]:
    """Yield ``items`` no faster than ``per_second`` (evenly spaced, catching up after stalls)."""
    interval = 1.0 / per_second
    started = time.monotonic()
    for index, item in enumerate(items):
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield item


def produce_rows(
    settings: Settings,
    rows: Iterable[Row],
    source: str,
    dlq: bool = False,
    on_row: Callable[[Row], None] | None = None,
) -> ProduceReport:
    """Publish rows; invalid ones are counted, listed with their line, and dead-lettered with ``dlq``."""
    decoder = RecordDecoder.from_limits(settings.limits)
    producer = Producer(producer_config(settings.kafka))
    _check_broker(producer)
    report = ProduceReport()
    delivery_errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            delivery_errors.append(str(err))

    for row in rows:
        result = _validate(decoder, row, source)
        if isinstance(result, DecodeError):
            report.invalid += 1
            report.errors_by_kind[result.kind] += 1
            report.invalid_rows.append((row.line, f"{result.kind}: {result.message}"))
            if dlq:
                letter = DeadLetter.from_raw(row.raw, None, result.kind, f"line {row.line}: {result.message}", str(source), "produce")
                _send(producer, settings.topics.dlq, None, letter.model_dump_json().encode(), delivered)
                report.dead_lettered += 1
        else:
            _send(producer, settings.topics.records, result[0], result[1], delivered)
            report.sent += 1
        if on_row is not None:
            on_row(row)
    remaining = producer.flush(60)
    if remaining or delivery_errors:
        raise ServiceUnavailable(
            f"{remaining + len(delivery_errors)} messages were not delivered: {(delivery_errors or ['timeout'])[0]}"
        )
    return report


def _validate(decoder: RecordDecoder, row: Row, source: str) -> tuple[bytes, bytes] | DecodeError:
    """(key, value) of a valid row, or why it is invalid."""
    if row.error is not None:
        return DecodeError(row.error_kind or "malformed_row", row.error)
    payload = dict(row.payload or {})
    payload.setdefault("source", source)
    record = decoder.validate(payload)
    if isinstance(record, DecodeError):
        return record
    value = orjson.dumps(record.model_dump(exclude_none=True))
    if len(value) > decoder.max_record_bytes:
        return DecodeError("too_large", f"{len(value)} bytes > limit of {decoder.max_record_bytes}")
    return record.id.encode(), value


def _send(producer: Producer, topic: str, key: bytes | None, value: bytes, callback: Callable) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=callback)
            producer.poll(0)
            return
        except BufferError:  # local queue full: let deliveries drain
            producer.poll(0.1)


def _check_broker(producer: Producer) -> None:
    try:
        producer.list_topics(timeout=10)
    except KafkaException as exc:
        raise ServiceUnavailable(f"Kafka did not answer ({exc}); is the stack up? (make up)") from exc
