"""Typed exceptions of the Engram SDK, each carrying the server's status code and message."""

from __future__ import annotations

import grpc


class EngramError(Exception):
    """Base of every SDK error. ``code`` is a ``grpc.StatusCode`` (or None for local errors)."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidArgument(EngramError, ValueError):
    """The server refused the input (wrong dimension, NaN, bad id, oversize content ...)."""


class NotFound(EngramError, LookupError):
    """The space (or session) does not exist."""


class AlreadyExists(EngramError):
    """A space with that id exists already (with another dimension or metric)."""


class FailedPrecondition(EngramError):
    """The call does not fit the current state (e.g. an observation before init)."""


class Overloaded(EngramError):
    """The server is overloaded; try again after ``retry_after`` seconds (None if not given)."""

    def __init__(self, message: str, code=None, retry_after: float | None = None):
        super().__init__(message, code)
        self.retry_after = retry_after


class Unavailable(EngramError):
    """The server cannot be reached or is shutting down."""


class DeadlineExceeded(EngramError, TimeoutError):
    """The call did not finish within its timeout."""


class PermissionDenied(EngramError):
    """The caller may not do this."""


class StreamFailed(EngramError):
    """The stream gave up: a permanent error, too many failed reconnects or identical failures."""


class StreamClosed(StreamFailed):
    """The stream is closing or closed; it takes no new observations or recalls."""


class BufferFull(EngramError):
    """The stream's buffer of unacknowledged observations is full (``capacity`` of them)."""

    def __init__(self, message: str, capacity: int):
        super().__init__(message)
        self.capacity = capacity


class EpisodeTooLarge(EngramError, ValueError):
    """One episode alone does not fit in the largest message the server reads."""

    def __init__(self, message: str, size: int, limit: int):
        super().__init__(message, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.size = size
        self.limit = limit


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: PermissionDenied,
}

_CODE_BY_NUMBER = {c.value[0]: c for c in grpc.StatusCode}


def status_code(number: int) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` for a numeric code (as carried by Rejection and StreamError)."""
    return _CODE_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def error_for(code: grpc.StatusCode, message: str, retry_after: float | None = None) -> EngramError:
    """The typed exception for a status code and the server's message."""
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return Overloaded(message, code, retry_after)
    return _BY_CODE.get(code, EngramError)(message, code)


def from_rpc_error(e: grpc.RpcError) -> EngramError:
    """Translates a grpc error (sync or aio) into the typed exception, keeping the server's words."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = (e.details() if hasattr(e, "details") else None) or str(code)
    retry_after = None
    trailers = e.trailing_metadata() if hasattr(e, "trailing_metadata") else None
    for key, value in trailers or ():
        if key == "retry-after-ms":
            try:
                retry_after = int(value) / 1000.0
            except ValueError:
                pass
    err = error_for(code, details, retry_after)
    err.__cause__ = e
    return err
