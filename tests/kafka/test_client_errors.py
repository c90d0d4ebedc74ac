"""Kafka client errors described even when the client left an exception pending (no broker needed)."""

from confluent_kafka import KafkaError, KafkaException

from labelstream.kafka.client_errors import describe, describe_exception


class PendingOnce(KafkaError):
    """An error whose first ``str`` meets the exception the client left pending (it is consumed by that call)."""

    pending = True

    def __str__(self) -> str:
        if PendingOnce.pending:
            PendingOnce.pending = False
            raise SystemError("<class 'str'> returned a result with an exception set") from TypeError(
                "'NoneType' object cannot be interpreted as an integer"
            )
        return super().__str__()


def test_an_error_is_described():
    assert describe(KafkaError(KafkaError._TRANSPORT)).startswith("KafkaError{code=_TRANSPORT")
    assert describe_exception(KafkaException(KafkaError(KafkaError._FATAL))).startswith("KafkaError{code=_FATAL")
    assert describe_exception(RuntimeError("closed")) == "closed"


def test_a_pending_exception_surfacing_in_it_does_not_raise():
    """As the labeler's log read at 05:05 (outage test): the first ``str`` raised, the second named the error."""
    error = PendingOnce(KafkaError._FATAL)
    assert describe(error) == 'KafkaError{code=_FATAL,val=-150,str="Local: Fatal error"}'
