"""Errors raised by the storage layer.

Every backend re-raises its driver's exceptions as one of these classes, with the original
exception chained, so callers never import a driver to handle a failure.
"""


class TimeseriesError(Exception):
    """Base class of every storage-layer error."""


class InvalidInput(TimeseriesError, ValueError):
    """The caller gave something that can never be accepted (a bad name, a NaN, an unknown
    aggregate). Retrying will not help; the message says what was wrong and where."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class InvalidPoint(InvalidInput):
    """A point that cannot be stored."""


class InvalidQuery(InvalidInput):
    """A query that cannot be answered as asked."""


class FieldTypeError(InvalidQuery):
    """A numeric aggregate or comparison was asked of a field holding strings."""


class NotSupported(TimeseriesError):
    """The backend cannot do this at all (a capability flag says so)."""


class ConfigurationError(TimeseriesError):
    """The backend settings are missing or wrong."""


class BackendUnavailable(TimeseriesError):
    """The database could not be reached or failed: the operation may succeed if retried."""
