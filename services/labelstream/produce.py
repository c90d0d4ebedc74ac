"""``labelstream produce``: publish a CSV or JSONL file to ``records``, validated row by row.

What a user can rely on:

- **Keyed by id, idempotent**: each record is keyed by its id; the producer is
  idempotent (a retry inside a run never writes a row twice).
- **Nothing sent twice, nothing silently lost**: if the broker does not
  confirm every row, the run stops sending at the first failure, writes which
  rows were not delivered (:mod:`labelstream.produce_state`) and exits 4;
  ``--resume`` sends exactly the rest.
- **Invalid rows are reported, never guessed at**: a malformed row, a blank or
  duplicate id, or a cell that does not fit its column's type
  (:class:`~labelstream.datafile.ColumnTypes`: ``abc`` in a numeric column)
  is listed with its line, left out (dead-lettered with ``--dlq``), and the
  run exits 3 once every valid row is delivered.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from labelstream.core.decode import DecodeError, RecordDecoder
from labelstream.core.schemas import DeadLetter
from labelstream.datafile import STDIN, ColumnTypes, FileFormat, Row, open_rows
from labelstream.errors import InputFileError, ServiceUnavailable
from labelstream.kafka.config import consumer_config, producer_config
from labelstream.kafka.reachability import require_kafka
from labelstream.kafka.reader import iter_all
from labelstream.produce_state import ProduceState, file_size
from labelstream.settings import Settings

T = TypeVar("T")

# librdkafka's own log lines (a broker still loading its coordinator, a connection refused) go to this logger,
# silent unless the program configures logging: produce reports the rows it could not deliver itself
log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

#: exit codes of ``labelstream produce`` (2 is a usage error, as for every command)
EXIT_INVALID_ROWS = 3
EXIT_UNDELIVERED = 4
#: a dead letter carries an invalid row whole up to this size, by reference (prefix, size, hash) beyond
DLQ_INLINE_BYTES = 256 * 1024


@dataclass
class ProduceReport:
    """What a produce run did."""

    sent: int = 0
    """Rows the broker confirmed in this run."""
    invalid: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    """Rows an earlier run delivered (``--resume``)."""
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)
    undelivered: list[tuple[int, str, str]] = field(default_factory=list)
    """(line, id, reason) of rows sent but not confirmed."""
    unsent_from_line: int | None = None
    """The run stopped at the first delivery failure: rows from this line on were not sent."""
    state_file: Path | None = None

    @property
    def complete(self) -> bool:
        """Every valid row is on the broker."""
        return not self.undelivered and self.unsent_from_line is None

    @property
    def exit_code(self) -> int:
        """0: every row delivered; 3: every valid row delivered, some rows invalid; 4: rows not delivered."""
        if not self.complete:
            return EXIT_UNDELIVERED
        return EXIT_INVALID_ROWS if self.invalid else 0


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
    encoding: str = "utf-8",
    fmt: FileFormat | None = None,
    schema: Mapping[str, str] | None = None,
    resume: bool = False,
    delivery_timeout: float = 120.0,
) -> ProduceReport:
    """Validate every row of ``path`` (``-``: standard input) and publish the valid ones keyed by record id.

    ``rate`` paces publishing (rows per second; ``None``: as fast as possible);
    ``limit`` stops after that many rows; ``schema`` declares column types
    (default: the ``produce.columns`` setting); ``resume`` continues a run that
    did not deliver every row; ``delivery_timeout`` is how long a row may wait
    for the broker's confirmation.
    """
    stdin = str(path) == STDIN
    if resume and stdin:
        raise InputFileError("--resume needs a file: standard input cannot be read again")
    state = ProduceState.load(path, settings.topics.records) if resume else None
    declared = schema if schema is not None else settings.produce.columns
    rows: Iterable[Row] = open_rows(path, label_column, id_column, text_column, encoding, fmt, ColumnTypes(declared))
    if limit is not None:
        rows = itertools.islice(rows, limit)
    if rate is not None:
        rows = paced(rows, rate)
    name = "stdin" if stdin else Path(path).name
    run = ProduceRun(settings, source or name, dlq, on_row, delivery_timeout)
    return run.run(rows, None if stdin else Path(path), state)


def paced(items: Iterable[T], per_second: float) -> Iterator[T]:
    """Yield ``items`` no faster than ``per_second`` (evenly spaced, catching up after stalls)."""
    interval = 1.0 / per_second
    started = time.monotonic()
    for index, item in enumerate(items):
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield item


class ProduceRun:
    """One run of ``produce``: validate, send, track each row's delivery, write the state a resume needs."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        dlq: bool = False,
        on_row: Callable[[Row], None] | None = None,
        delivery_timeout: float = 120.0,
    ) -> None:
        self.settings = settings
        self.topic = settings.topics.records
        self.source = source
        self.dlq = dlq
        self.on_row = on_row
        self.decoder = RecordDecoder.from_limits(settings.limits)
        self._timeout_ms = max(int(delivery_timeout * 1000), 1000)
        require_kafka(settings.kafka)  # at once when no broker is there (a producer would retry for 10 s)
        self.producer = Producer(producer_config(settings.kafka, **{"message.timeout.ms": self._timeout_ms, "logger": log}))
        self.report = ProduceReport()
        self._delivered: list[int] = []
        self._acked: dict[int, int] = {}
        self._in_flight: dict[int, str] = {}  # line -> id, until the broker answers
        self._failed = False

    def run(self, rows: Iterable[Row], path: Path | None, state: ProduceState | None) -> ProduceReport:
        _check_broker(self.producer, self.topic)
        report = self.report
        if path is not None and state is None:
            state = ProduceState(file=str(path), size=file_size(path), topic=self.topic, start_offsets=self._end_offsets())
        already = self._ids_in_doubt_on_broker(state) if state is not None else set()
        seen: dict[str, int] = {}
        for row in rows:
            if self._failed:  # stop at the first delivery failure: what follows is sent by --resume
                report.unsent_from_line = row.line
                break
            result = _validate(self.decoder, row, self.source)
            if not isinstance(result, DecodeError):
                record_id = result[0].decode()
                if record_id in seen:
                    result = DecodeError("duplicate_id", f"id {record_id!r} is also on line {seen[record_id]}")
                else:
                    seen[record_id] = row.line
            if isinstance(result, DecodeError):
                self._invalid(row, result)
            elif state is not None and (state.is_delivered(row.line) or result[0].decode() in already):
                report.skipped += 1
            else:
                self._send_record(row, *result)
            if self.on_row is not None:
                self.on_row(row)
        self._finish(state)
        return report

    # -- sending ---------------------------------------------------------------------------------

    def _send_record(self, row: Row, key: bytes, value: bytes) -> None:
        line, record_id = row.line, key.decode()

        def delivered(err: object, msg: object) -> None:
            self._in_flight.pop(line, None)
            if err is None:
                self._delivered.append(line)
                partition, offset = msg.partition(), msg.offset()  # type: ignore[attr-defined]
                if offset > self._acked.get(partition, -1):
                    self._acked[partition] = offset
            else:
                self._failed = True
                self.report.undelivered.append((line, record_id, str(err)))

        self._in_flight[line] = record_id
        try:
            _send(self.producer, self.topic, key, value, delivered)
        except KafkaException as exc:  # the producer refuses this one message (e.g. its size): an invalid row
            self._in_flight.pop(line, None)
            self._invalid(row, DecodeError("not_sendable", str(exc.args[0] if exc.args else exc)))

    def _invalid(self, row: Row, error: DecodeError) -> None:
        report = self.report
        report.invalid += 1
        report.errors_by_kind[error.kind] += 1
        report.invalid_rows.append((row.line, f"{error.kind}: {error.message}"))
        if self.dlq:
            letter = DeadLetter.from_raw(
                row.raw, None, error.kind, f"line {row.line}: {error.message}", self.source, "produce",
                max_raw_bytes=DLQ_INLINE_BYTES,
            )
            _send(self.producer, self.settings.topics.dlq, None, letter.model_dump_json().encode(), _ignore)
            report.dead_lettered += 1

    def _finish(self, state: ProduceState | None) -> None:
        self.producer.flush(self._flush_seconds())
        report = self.report
        report.sent = len(self._delivered)
        for line, record_id in sorted(self._in_flight.items()):
            report.undelivered.append((line, record_id, "no confirmation from the broker (delivery timed out)"))
        report.undelivered.sort()
        if state is None:  # standard input: the report lists what was not delivered
            return
        state.mark_delivered(self._delivered)
        state.note_offsets(self._acked)
        if report.complete:
            state.remove()
            return
        state.undelivered = [{"line": line, "id": i, "reason": reason} for line, i, reason in report.undelivered]
        state.unsent_from_line = report.unsent_from_line
        report.state_file = state.save()

    def _flush_seconds(self) -> float:
        """Long enough for every queued row to be confirmed or to time out (then its callback says so)."""
        return self._timeout_ms / 1000 + 10

    # -- the broker ------------------------------------------------------------------------------

    def _end_offsets(self) -> dict[int, int]:
        """Per partition of ``records``, its end offset now (where this run's rows can start)."""
        metadata = self.producer.list_topics(self.topic, timeout=10)
        partitions = metadata.topics[self.topic].partitions if self.topic in metadata.topics else {}
        consumer = Consumer(consumer_config(self.settings.kafka, "labelstream-produce", logger=log))
        try:
            return {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1] for p in partitions}
        finally:
            consumer.close()

    def _ids_in_doubt_on_broker(self, state: ProduceState) -> set[str]:
        """Ids written after the last offsets an earlier run had confirmed: rows in doubt that did arrive."""
        if not state.undelivered and state.unsent_from_line is None:
            return set()
        return {msg.key().decode() for msg in iter_all(self.settings.kafka, self.topic, start=state.in_doubt_from())
                if msg.key() is not None}


def _ignore(_err: object, _msg: object) -> None:
    """Dead letters of a produce run are best effort: the run's report lists every invalid row anyway."""


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


def _check_broker(producer: Producer, topic: str) -> None:
    """The broker answers and ``topic`` exists (else every row would wait out its delivery timeout)."""
    try:
        metadata = producer.list_topics(timeout=10)
    except KafkaException as exc:
        raise ServiceUnavailable(f"Kafka did not answer ({exc}); is the stack up? (make up)") from exc
    if topic not in metadata.topics:
        raise ServiceUnavailable(f"topic {topic!r} does not exist; create the topics with: labelstream topics create")
