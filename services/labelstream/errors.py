"""Exceptions a user can cause, each with a message that names the thing and the fix.

The CLI prints a :class:`LabelstreamError` without a traceback (``--debug``
shows it); anything else is a bug and keeps its traceback.
"""


class LabelstreamError(Exception):
    """Root of labelstream's user-facing errors."""


class ConfigError(LabelstreamError):
    """A setting is missing or invalid."""


class InputFileError(LabelstreamError):
    """A data file cannot be read (missing, unknown format, missing column)."""


class ServiceUnavailable(LabelstreamError):
    """Kafka or Redis cannot be reached."""


class SnapshotRejected(LabelstreamError):
    """A model snapshot failed verification and was not loaded."""


class PortInUse(LabelstreamError):
    """A port a service must listen on is taken."""

    def __init__(self, message: str, port: int) -> None:
        super().__init__(message)
        self.port = port
