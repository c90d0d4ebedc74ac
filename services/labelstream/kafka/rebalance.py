"""Rebalance callbacks that give partitions up themselves, and client errors described without raising.

confluent-kafka's rebalance callback calls ``assign(None)`` itself when the
application's ``on_revoke``/``on_lost`` did not (un)assign. On a consumer whose
membership died in an outage (a static member whose session timed out, then
fenced: a fatal error) that fallback fails inside the client, which leaves a
Python exception set without raising it; it surfaces later, at some unrelated
call, as a ``SystemError`` ("returned a result with an exception set"). Seen in
the fault suite (tests/faults/test_outages.py, 1 run in 2 on a loaded 2-core
machine, and CI): the labeler exited formatting the fatal error it was about to
survive. :func:`give_up` takes the fallback's place, its failure caught;
:func:`describe` names an error even if such an exception is pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

log = logging.getLogger("labelstream.kafka.rebalance")


def cooperative(config: dict) -> bool:
    """Whether a consumer with this configuration rebalances incrementally (it gives up only what it loses)."""
    return "cooperative" in str(config.get("partition.assignment.strategy", ""))


Callback = Callable[[Consumer, list[TopicPartition]], None]


def subscribe(
    consumer: Consumer,
    topics: list[str],
    config: dict,
    on_assign: Callback | None = None,
    on_revoke: Callback | None = None,
) -> None:
    """``consumer.subscribe`` with callbacks that run ``on_assign``/``on_revoke`` (also on a lost assignment),
    then take or give up the partitions themselves (:func:`take`, :func:`give_up`)."""
    incremental = cooperative(config)

    def assigned(client: Consumer, partitions: list[TopicPartition]) -> None:
        if on_assign is not None:
            on_assign(client, partitions)
        take(client, partitions, incremental)

    def revoked(client: Consumer, partitions: list[TopicPartition]) -> None:
        if on_revoke is not None:
            on_revoke(client, partitions)
        give_up(client, partitions, incremental)

    consumer.subscribe(topics, on_assign=assigned, on_revoke=revoked, on_lost=revoked)


def take(consumer: Consumer, partitions: Sequence[TopicPartition], incremental: bool = False) -> None:
    """From ``on_assign``: assign ``partitions`` (added to the assignment if ``incremental``); never raises."""
    try:
        if incremental:
            consumer.incremental_assign(list(partitions))
        else:
            consumer.assign(list(partitions))
    except (KafkaException, RuntimeError) as exc:  # a fatal or closed consumer: it is replaced or closing anyway
        log.debug("taking %d partitions: %s", len(partitions), describe_exception(exc))


def give_up(consumer: Consumer, partitions: Sequence[TopicPartition], incremental: bool = False) -> None:
    """From ``on_revoke``/``on_lost``: remove ``partitions`` from the assignment (all of it unless
    ``incremental``); never raises, so the client's own fallback, which can leave an exception pending, is not used."""
    try:
        if incremental:
            consumer.incremental_unassign(list(partitions))
        else:
            consumer.unassign()
    except (KafkaException, RuntimeError) as exc:  # a fatal or closed consumer: it is replaced or closing anyway
        log.debug("giving up %d partitions: %s", len(partitions), describe_exception(exc))


def describe(error: KafkaError) -> str:
    """``str(error)``; if an exception left pending by the client surfaces in it, ``str`` again (it is cleared).

    >>> describe(KafkaError(KafkaError._FATAL))
    'KafkaError{code=_FATAL,val=-150,str="Local: Fatal error"}'
    """
    try:
        return str(error)
    except (SystemError, TypeError) as exc:
        log.warning("an exception the Kafka client left pending: %r (from %r)", exc, exc.__cause__)
    try:
        return str(error)
    except (SystemError, TypeError):
        return f"Kafka error code {error.code()}"


def describe_exception(exc: BaseException) -> str:
    """A client exception's text, by :func:`describe` for its error."""
    error = exc.args[0] if exc.args else None
    return describe(error) if isinstance(error, KafkaError) else str(exc)
