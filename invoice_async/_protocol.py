"""The i3D.net billing protocol as pure functions: no I/O, no event loop, no aiohttp.

What is sent and how answers read: list windows (``RANGED-DATA``) and PAGE-TOKEN headers,
URL paths and queries, the page of a list answer, error objects to exceptions, ``Retry-After``
and PDF checks. The session, the pager and the client call these; the tests call them
directly. (Argument checks live in ``_args``.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeGuard
from urllib.parse import quote

import attrs
import orjson

from . import errors
from ._logging import redact

INVOICE_PATH: Final = "/v3/account/invoice"
RANGED_DATA_HEADER: Final = "RANGED-DATA"
PAGE_TOKEN_HEADER: Final = "PAGE-TOKEN"  # noqa: S105  # a header name, not a secret
TOKEN_HEADER: Final = "PRIVATE-TOKEN"  # noqa: S105  # a header name, not a secret
TOKEN_ENV_VAR: Final = "I3D_API_TOKEN"  # noqa: S105  # a variable name, not a secret
DEFAULT_BASE_URL: Final = "https://api.i3d.net"
PDF_MAGIC: Final = b"%PDF-"

_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
MAX_PAGE_TOKEN_LENGTH: Final = 1024
# What a list answer can hold: a window asks for page_size items, and one item of the API is
# well under 1 KiB; a server may cap a window, never fill it past a few times what was asked.
# Without a bound of its own a list answer could be max_response_bytes of "[{},{},...]",
# which decodes to 25 times its size.
LIST_ITEM_BYTES: Final = 16 * 1024
LIST_ITEMS_PER_ASKED: Final = 4
_PAGE_TOKEN_RE: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_PAGE_TOKEN_LENGTH}}}")


class Secret:
    """A string that never shows itself: repr and str are redacted; ``reveal()`` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret's value, for the one place that must send it."""
        assert isinstance(self._value, str), "reveal() after check()"
        return self._value

    def check(self) -> None:
        """Refuse a token that is missing, empty, not text, or holds whitespace or control
        characters (a stray newline, or a header injection). Its value is never echoed, and
        never bound to a local variable that a traceback would show."""
        if self._value is None:
            raise errors.ConfigurationError(f"no API token: pass one or set {TOKEN_ENV_VAR}")
        if not isinstance(self._value, str):
            raise errors.ConfigurationError(
                f"the API token must be a string, not {type(self._value)}"
            )
        if not self._value:
            raise errors.ConfigurationError("the API token is empty")
        if _CONTROL_RE.search(self._value) or self._value != self._value.strip():
            raise errors.ConfigurationError(
                "the API token has whitespace or control characters (a stray newline?)"
            )
        if not self._value.isascii():
            raise errors.ConfigurationError("the API token must be ASCII text")

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@attrs.frozen
class Window:
    """One ``RANGED-DATA`` window: ``results`` items from position ``start``."""

    start: int
    results: int

    def header(self) -> str:
        """The header value, ``start=<start>,results=<results>``."""
        return f"start={self.start},results={self.results}"


@attrs.frozen
class Page:
    """One answer of a list endpoint: its items, and the PAGE-TOKEN naming the next page.

    ``keys``: the items' identities for the pager, when the decoder knows them (typed items:
    their ids); None lets the pager read them from the raw items.
    """

    items: Sequence[Any]
    url: str
    page_token: str | None = None
    keys: Sequence[Any] | None = None


def list_headers(window: Window, page_token: str | None) -> dict[str, str]:
    """The headers of a list request: the window, or the PAGE-TOKEN alone (a token names
    its page by itself, so no offset goes with it)."""
    if page_token is None:
        return {RANGED_DATA_HEADER: window.header()}
    return {PAGE_TOKEN_HEADER: page_token}


def list_answer_bytes(page_size: int) -> int:
    """The most bytes a list answer of ``page_size`` items is read to: 16 KiB an item."""
    return page_size * LIST_ITEM_BYTES


def page_of(
    payload: Any, headers: Mapping[str, str], *, url: str, page_size: int | None = None
) -> Page:
    """The page of a list answer; InvalidResponseError when it is not a JSON array, or (given
    the ``page_size`` asked for) when it holds more than 4 x page_size items."""
    items = expect_list(payload, url=url)
    check_item_count(len(items), page_size, url=url)
    return Page(items, url, page_token_of(headers, url=url))


def check_item_count(count: int, page_size: int | None, *, url: str) -> None:
    """InvalidResponseError when a list answer holds more than 4 x the ``page_size`` asked
    for (None: not checked)."""
    if page_size is not None and count > LIST_ITEMS_PER_ASKED * page_size:
        raise errors.InvalidResponseError(
            f"the answer holds {count} items for a window of {page_size}: more than "
            f"{LIST_ITEMS_PER_ASKED} x page_size",
            url=url,
        )


def page_token_of(headers: Mapping[str, str], *, url: str) -> str | None:
    """The answer's PAGE-TOKEN, which the next request sends back: None when there is none
    (or it is empty); InvalidResponseError, without echoing it, unless it is 1 to 1024
    visible ASCII characters (a token of other bytes could not be sent, or would carry
    what the server chose into our request)."""
    value = headers.get(PAGE_TOKEN_HEADER)
    if not value:
        return None
    if not _PAGE_TOKEN_RE.fullmatch(value):
        raise errors.InvalidResponseError(
            f"the API sent a PAGE-TOKEN of {len(value)} characters that are not all visible "
            f"ASCII, or over {MAX_PAGE_TOKEN_LENGTH}: not sending it back",
            url=url,
        )
    return value


def _is_int(value: object) -> TypeGuard[int]:
    # An exact int: not a bool, and not a subclass, whose __format__ or __str__ could put
    # anything at all into a path or a header.
    return type(value) is int


# --- paths and queries ----------------------------------------------------------------------


def list_path(*, unpaid: bool) -> str:
    """Path of the list of all invoices, or of the unpaid ones."""
    return f"{INVOICE_PATH}/unpaid" if unpaid else INVOICE_PATH


def filter_query(text: str | None) -> str:
    """The encoded query string for a description filter ('' for none).

    Every reserved character is percent-encoded (space as %20, '+' as %2B), so no server can
    read the text differently from what was meant.
    """
    return "" if text is None else "filter=" + quote(text, safe="")


def _id_segment(invoice_id: int) -> str:
    """The path segment of an invoice id: the digits of an exact int >= 1, never the text of
    the object itself (an int subclass could format as ``../../x``)."""
    if not _is_int(invoice_id) or invoice_id < 1:
        raise errors.ConfigurationError("invoice id must be an int >= 1")
    return str(invoice_id)


def detail_path(invoice_id: int) -> str:
    """Path of one invoice's detail."""
    return f"{INVOICE_PATH}/{_id_segment(invoice_id)}"


def detail_by_number_path(invoice_number: str) -> str:
    """Path of one invoice's detail by number: the number is one percent-encoded segment."""
    return f"{INVOICE_PATH}/number/{quote(invoice_number, safe='')}"


def pdf_path(invoice_id: int) -> str:
    """Path of one invoice's PDF."""
    return f"{INVOICE_PATH}/{_id_segment(invoice_id)}/pdf"


# --- answers --------------------------------------------------------------------------------


def decode_json(body: bytes, *, url: str) -> Any:
    """The JSON value of a body, or InvalidResponseError.

    orjson decodes about twice as fast as the standard library here (a 100-invoice window:
    78 µs against 186 µs), and refuses nesting deeper than 1024 levels.
    """
    try:
        return orjson.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = redact(str(exc))
    # Raised outside the except block: the decoder's error holds the whole body (``doc``),
    # and is chained to nothing of ours, not even as a suppressed __context__.
    raise errors.InvalidResponseError(f"the answer is not valid JSON ({reason})", url=url)


def expect_list(payload: Any, *, url: str) -> list[Any]:
    """A list answer; anything else is InvalidResponseError."""
    if not isinstance(payload, list):
        raise errors.InvalidResponseError(
            f"expected a JSON array, got {type(payload).__name__}", url=url
        )
    return payload


def expect_single(payload: Any, *, url: str) -> Mapping[str, Any]:
    """One object, as the API's rule ``[ {...} ]`` or bare ``{...}``."""
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, dict):
        raise errors.InvalidResponseError(
            "expected one JSON object (or an array holding exactly one)", url=url
        )
    return payload


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


_STATUS_CLASSES: Final[Mapping[int, type[errors.ApiError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    422: errors.BadRequestError,
    429: errors.RateLimitError,
}
_EXCERPT_LENGTH: Final = 200


def _clean(text: str) -> str:
    """Server text for an error message: tokens redacted (before any cut, which could split
    one), control characters as spaces, one line."""
    return _CONTROL_RE.sub(" ", redact(text)).strip()


def _scalar_text(value: object) -> str:
    """A JSON value given as text: strings as they are, numbers and booleans as JSON writes
    them, anything else (an object, an array, null) as nothing."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool | int | float):
        return orjson.dumps(value).decode()
    return ""


def _error_fields(body: bytes) -> tuple[int | None, str, list[errors.FieldError]]:
    """errorCode, errorMessage and errors of an API error object, tolerating any other body:
    any JSON at all gives these three, never an exception."""
    try:
        payload = orjson.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if not isinstance(payload, dict):
        # A proxy may echo the request's headers in its error page: keep the token out,
        # redacting the whole body before the excerpt is cut (a cut could split a token).
        return None, _clean(body.decode("utf-8", "replace"))[:_EXCERPT_LENGTH].strip(), []
    code = payload.get("errorCode")
    items = payload.get("errors")
    details = [
        errors.FieldError(_scalar_text(item.get("property")), _scalar_text(item.get("message")))
        for item in (items if isinstance(items, list) else ())
        if isinstance(item, dict)
    ]
    return code if _is_int(code) else None, _scalar_text(payload.get("errorMessage")), details


def error_from_response(
    status: int,
    body: bytes,
    *,
    method: str,
    url: str,
    retry_after: str | None = None,
) -> errors.ApiError:
    """The exception for an error answer: its class from the status, its text from the body."""
    error_code, error_message, details = _error_fields(body)
    cls = _STATUS_CLASSES.get(status, errors.ServerError if status >= 500 else errors.ApiError)
    return cls(
        status,
        error_code=error_code,
        error_message=error_message,
        errors=details,
        method=method,
        url=url,
        retry_after=parse_retry_after(retry_after),
    )


class PdfCheck:
    """Checks a PDF body as it streams: type, ``%PDF-`` magic, announced length, size limit.

    ``feed()`` each chunk, then ``finish()``; each raises at the first problem, so a bad body is
    refused before it is written anywhere whole.
    """

    _ACCEPTED_TYPES: Final = frozenset({"application/pdf", "application/octet-stream"})

    def __init__(
        self, *, url: str, content_type: str | None, content_length: int | None, max_bytes: int
    ) -> None:
        self.url = url
        self.size = 0
        self._head = b""
        self._content_length = content_length
        self._max_bytes = max_bytes
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if content_type is not None and media_type not in self._ACCEPTED_TYPES:
            shown = redact(content_type)[:100]  # a hostile server may echo the token in it
            raise errors.InvalidResponseError(
                f"expected a PDF, got Content-Type {shown!r}", url=url
            )
        if content_length is not None and content_length > max_bytes:
            raise errors.InvalidResponseError(
                f"the PDF announces {content_length} bytes, over the limit of {max_bytes} "
                "(max_pdf_bytes)",
                url=url,
            )

    def feed(self, chunk: bytes) -> None:
        """Account for one more chunk of the body."""
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise errors.InvalidResponseError(
                f"the PDF is over the limit of {self._max_bytes} bytes (max_pdf_bytes)",
                url=self.url,
            )
        if len(self._head) < len(PDF_MAGIC):
            self._head += chunk[: len(PDF_MAGIC)]
            self._check_magic(final=False)

    def _check_magic(self, *, final: bool) -> None:
        known = self._head[: len(PDF_MAGIC)]
        if not PDF_MAGIC.startswith(known) or (final and known != PDF_MAGIC):
            raise errors.InvalidResponseError(
                f"the answer is not a PDF (it starts with {bytes(known)!r})", url=self.url
            )

    def finish(self) -> int:
        """The body's size once it is complete and valid."""
        self._check_magic(final=True)
        if self._content_length is not None and self.size != self._content_length:
            raise errors.TransportError(
                f"the PDF was cut short: {self.size} of {self._content_length} bytes",
                url=self.url,
            )
        return self.size
