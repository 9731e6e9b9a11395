"""Exceptions raised by invoice_async.

Every exception derives from :class:`InvoiceAsyncError`, so one ``except`` clause catches them
all::

    InvoiceAsyncError
    ├── ConfigurationError          bad arguments, raised before any request (also a ValueError)
    ├── ApiError                    the API answered with an error status
    │   ├── BadRequestError         400, 422
    │   ├── AuthenticationError     401: missing, wrong or expired API key
    │   ├── PermissionDeniedError   403: key lacks the right, or IP not allowed
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429
    │   └── ServerError             5xx (a 503 may carry ``.retry_after`` too)
    ├── InvalidResponseError        the answer is not what the API documents (bad JSON, wrong
    │   │                           shape, a field that does not parse, a body that is not a PDF)
    │   └── PagingError             a listing makes no progress: the server ignores RANGED-DATA,
    │                               is stuck on an offset, or hands out PAGE-TOKENs in a loop
    ├── TransportError              no answer: connection failure, reset, timeout, truncated body
    │   └── RequestTimeoutError     the per-request timeout expired
    ├── DeadlineExceededError       the client's overall ``deadline`` has passed (a TimeoutError)
    └── StoreError                  the SQLite store (InvoiceStore) cannot be used: not a store,
        │                           made by a newer version, a database error, or it (or the
        │                           export's folder) holds a row or a file it did not make
        └── StoreLockedError        another process is writing to the store (or the folder)

An :class:`ApiError`'s ``errors`` list holds :class:`FieldError` items: named
``(property, message)`` pairs, not exceptions (``e.errors[0].property``, or
``prop, msg = e.errors[0]``).

No exception carries the API token: not in its message, its attributes, nor in the exceptions
chained to it. Errors of the HTTP library are translated at one boundary and not chained,
because aiohttp's errors hold the request headers, and the token is one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "DeadlineExceededError",
    "FieldError",
    "InvalidResponseError",
    "InvoiceAsyncError",
    "NotFoundError",
    "PagingError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StoreError",
    "StoreLockedError",
    "TransportError",
]


class FieldError(NamedTuple):
    """One item of :attr:`ApiError.errors`: a property of the request and what the API said
    of it, e.g. ``FieldError(property="invoiceId", message="must be an integer")``.

    Not an exception: a named pair, so ``e.errors[0].property`` and ``prop, msg =
    e.errors[0]`` both work.
    """

    property: str
    message: str


class InvoiceAsyncError(Exception):
    """Base class of every exception raised by invoice_async."""


class ConfigurationError(InvoiceAsyncError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class ApiError(InvoiceAsyncError):
    """The API answered with an error status.

    Attributes:
        status: the HTTP status code.
        error_code: the API's ``errorCode``, or None when the body was not an error object.
        error_message: the API's ``errorMessage``, or a short excerpt of a non-standard body.
        errors: the API's ``errors`` list, as :class:`FieldError` ``(property, message)``
            named tuples (``.property``, ``.message``; they unpack as pairs too).
        method: the HTTP method of the failed request.
        url: the URL of the failed request (it never holds the token).
        retry_after: seconds the API asked to wait (``Retry-After``), or None.
    """

    def __init__(
        self,
        status: int,
        *,
        error_code: int | None = None,
        error_message: str = "",
        errors: Sequence[tuple[str, str]] = (),
        method: str = "GET",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.error_code = error_code
        self.error_message = error_message
        self.errors: list[FieldError] = [FieldError(prop, message) for prop, message in errors]
        self.method = method
        self.url = url
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"HTTP {self.status}"
        if self.error_code is not None:
            text += f" (errorCode {self.error_code})"
        if self.error_message:
            text += f": {self.error_message}"
        if self.errors:
            text += " [" + "; ".join(f"{prop}: {msg}" for prop, msg in self.errors) + "]"
        if self.url:
            text += f" for {self.method} {self.url}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, error_code={self.error_code!r}, "
            f"error_message={self.error_message!r}, url={self.url!r})"
        )


class BadRequestError(ApiError):
    """400 or 422: the API rejected the request (see ``errors`` for the property)."""


class AuthenticationError(ApiError):
    """401: the API key is missing, wrong or expired."""


class PermissionDeniedError(ApiError):
    """403: the key may not do this, or it is used from an IP it is not allowed from."""


class NotFoundError(ApiError):
    """404: no such invoice."""


class RateLimitError(ApiError):
    """429: too many requests; ``retry_after`` says how long the API asked to wait."""


class ServerError(ApiError):
    """5xx: the API failed to answer the request."""


class InvalidResponseError(InvoiceAsyncError):
    """The API answered 2xx but the answer is not what it documents.

    Attributes:
        url: the URL of the request whose answer was invalid, or "" when not known.
    """

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(f"{message} (from {url})" if url else message)


class PagingError(InvalidResponseError):
    """A listing stopped because the server made no progress.

    The message says what the server did, e.g. "the API answered the same items for start=300
    and start=400; it may be ignoring RANGED-DATA". Raised within a bounded number of
    requests (see the README's "Paging"); the items yielded before it are all valid.
    """


class TransportError(InvoiceAsyncError):
    """No complete answer arrived: connection refused or reset, body cut short, timeout.

    Attributes:
        url: the URL of the request that failed.
    """

    def __init__(self, message: str, *, method: str = "GET", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(f"{message} for {method} {url}" if url else message)


class RequestTimeoutError(TransportError):
    """The per-request timeout expired before the answer was complete."""


class DeadlineExceededError(InvoiceAsyncError, TimeoutError):
    """The client's overall ``deadline`` passed, or a wait would have crossed it.

    No request starts after the deadline, and no retry or Retry-After pause waits past it.
    """


class StoreError(InvoiceAsyncError):
    """The store (:class:`~invoice_async.InvoiceStore`) cannot be used.

    The file is not an invoice_async store, was made by a newer version of invoice_async, or
    SQLite failed while reading or writing it (disk full, a corrupt file). Nothing is lost:
    each transaction is written whole or not at all. Also raised when the store holds a row
    that invoice_async does not write (an invalid id, a PDF path outside its folder), or when
    the store's folder or OUT_DIR holds, where the library keeps a file or folder, something
    it did not make (a symbolic link, a FIFO): nothing is sent or written for it.

    Attributes:
        path: the store's file (or the folder a lock protects), as text.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(message)


class StoreLockedError(StoreError):
    """Another process is writing to this store, or exporting into this folder.

    Raised at once, never waited for; the other process is not disturbed. The message names
    it: ``another export is using out (pid 1234)``.

    Attributes:
        path: the store or folder that is in use.
        pid: the process id of the writer holding it, or None when it is not known.
    """

    def __init__(self, message: str, *, path: str = "", pid: int | None = None) -> None:
        self.pid = pid
        super().__init__(message, path=path)
