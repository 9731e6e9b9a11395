"""Checks of the client's arguments; each raises ConfigurationError before any request."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import ssl as _ssl
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import attrs

from . import errors
from ._models import Invoice, InvoiceDetail, OnError
from ._protocol import _is_int

DEFAULT_MAX_CONNECTIONS: Final = 100  # aiohttp's and httpx's default pool size
DEFAULT_MAX_CONCURRENCY: Final = 8
DEFAULT_PAGE_SIZE: Final = 100
DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
DEFAULT_MAX_DETAIL_BYTES: Final = 1024 * 1024  # a detail answer is a few KiB
DEFAULT_MAX_PDF_BYTES: Final = 256 * 1024 * 1024
DEFAULT_READ_AHEAD: Final = 4
MAX_INVOICE_NUMBER_LENGTH: Final = 256
MAX_FILTER_LENGTH: Final = 1024
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


def _shown(value: object) -> str:
    """``value`` for an error message: the repr of a plain value (cut short), else only its
    type (the repr of an object of any other class is its own code)."""
    if type(value) in (int, bool, float, str, type(None)):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def check_positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1 (an exact int: not a bool, not a subclass), or
    ConfigurationError."""
    if not _is_int(value) or value < 1:
        raise errors.ConfigurationError(f"{name} must be an integer >= 1, got {_shown(value)}")
    return value


def check_non_negative_int(name: str, value: object) -> int:
    """``value`` as an int >= 0 (an exact int), or ConfigurationError."""
    if not _is_int(value) or value < 0:
        raise errors.ConfigurationError(f"{name} must be an integer >= 0, got {_shown(value)}")
    return value


def check_positive_seconds(name: str, value: object) -> float:
    """``value`` as a finite number of seconds > 0, or ConfigurationError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise errors.ConfigurationError(f"{name} must be a number of seconds > 0, got {value!r}")
    return float(value)


def check_invoice_id(value: object) -> int:
    """An invoice id is a positive exact int (not a bool, not a string, not an int subclass,
    whose own ``__format__`` could put anything into a path)."""
    if not _is_int(value) or value < 1:
        raise errors.ConfigurationError(f"invoice id must be an integer >= 1, got {_shown(value)}")
    return value


def _check_encodable(name: str, value: str) -> None:
    """Text sent percent-encoded as UTF-8 must encode: a lone surrogate would raise a bare
    UnicodeEncodeError mid-request instead."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.ConfigurationError(
            f"{name} is not valid Unicode text (it holds a lone surrogate)"
        ) from None


def check_invoice_number(value: object) -> str:
    """An invoice number is a non-blank string that can be one URL path segment."""
    if not isinstance(value, str) or not value.strip():
        raise errors.ConfigurationError(f"invoice number must be a non-empty string, got {value!r}")
    if _CONTROL_RE.search(value):
        raise errors.ConfigurationError(f"invoice number has control characters: {value!r}")
    _check_encodable("invoice number", value)
    if value in (".", ".."):
        raise errors.ConfigurationError(f"invoice number cannot be {value!r}")
    if len(value) > MAX_INVOICE_NUMBER_LENGTH:
        raise errors.ConfigurationError(
            f"invoice number is longer than {MAX_INVOICE_NUMBER_LENGTH} characters"
        )
    return value


def check_filter(value: object) -> str | None:
    """The description filter: None, or a string without control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.ConfigurationError(f"filter must be a string or None, got {value!r}")
    if _CONTROL_RE.search(value):
        raise errors.ConfigurationError(f"filter has control characters: {value!r}")
    _check_encodable("filter", value)
    if len(value) > MAX_FILTER_LENGTH:
        raise errors.ConfigurationError(f"filter is longer than {MAX_FILTER_LENGTH} characters")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: object, *, allow_insecure_http: bool = False) -> str:
    """The API's base URL without a trailing slash.

    ``https`` is required; plain ``http`` only for a loopback host (the fake server) or with
    ``allow_insecure_http=True``, since the token would cross the network in clear.
    """
    if not isinstance(value, str):
        raise errors.ConfigurationError(f"base_url must be a string, got {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.ConfigurationError(f"base_url must be an http(s) URL, got {value!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise errors.ConfigurationError(
            "base_url must not carry credentials, a query or a fragment"
        )
    if parts.scheme == "http" and not (allow_insecure_http or _is_loopback(parts.hostname)):
        raise errors.ConfigurationError(
            f"base_url {value!r} is plain http: the token would travel unencrypted; "
            "use https, or pass allow_insecure_http=True"
        )
    return value.rstrip("/")


def check_flag(name: str, value: object) -> bool:
    """``value`` as a bool (True or False only), or ConfigurationError."""
    if not isinstance(value, bool):
        raise errors.ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


def check_retries(max_retries: object) -> int | None:
    if max_retries is None:
        return None
    return check_non_negative_int("max_retries", max_retries)


def check_on_error(on_error: object) -> OnError:
    if on_error not in ("raise", "yield"):
        raise errors.ConfigurationError(f"on_error must be 'raise' or 'yield', got {on_error!r}")
    return on_error


def check_items(items: object, name: str) -> Iterable[Any] | AsyncIterable[Any]:
    """An iterable or async iterable (not a string)."""
    if not isinstance(items, Iterable | AsyncIterable) or isinstance(items, str | bytes):
        raise errors.ConfigurationError(f"{name} must be an iterable or async iterable of ids")
    return items


def check_fan_out(
    settings: Settings, concurrency: object, on_error: object, items: object, name: str
) -> tuple[int, OnError, Iterable[Any] | AsyncIterable[Any]]:
    """What every fan-out checks: its ``concurrency`` (the client's max_concurrency by
    default, at most its max_connections), its ``on_error``, and its ``items``."""
    limit = check_concurrency(
        concurrency, default=settings.max_concurrency, ceiling=settings.max_connections
    )
    return limit, check_on_error(on_error), check_items(items, name)


def check_concurrency(value: object, *, default: int, ceiling: int) -> int:
    """A call's ``concurrency``: ``default`` (the client's max_concurrency) when None.

    Above max_concurrency is fine (that is only the default); above max_connections
    (``ceiling``) the client-wide bound would cap it silently, so it is refused.
    """
    if value is None:
        return default
    limit = check_positive_int("concurrency", value)
    if limit > ceiling:
        raise errors.ConfigurationError(
            f"concurrency={limit} is above the client's max_connections={ceiling}; "
            "raise max_connections on the client"
        )
    return limit


def check_limits(
    max_connections: object, max_concurrency: object, read_ahead: object, pool: int | None
) -> tuple[int, int, int]:
    """``(max_connections, max_concurrency, read_ahead)``, defaults filled in, each checked.

    ``pool`` is the size of a borrowed session's pool (None for the client's own): it is the
    default ``max_connections``, and an explicit one above it would be capped silently.
    """
    if max_connections is None:
        connections = DEFAULT_MAX_CONNECTIONS if pool is None else pool
    else:
        connections = check_positive_int("max_connections", max_connections)
        if pool is not None and connections > pool:
            raise errors.ConfigurationError(
                f"the borrowed session's connector allows {pool} connections, fewer than "
                f"max_connections={connections}: lower max_connections or raise its limit"
            )
    checked = []
    for name, value, default in (
        ("max_concurrency", max_concurrency, DEFAULT_MAX_CONCURRENCY),
        ("read_ahead", read_ahead, DEFAULT_READ_AHEAD),
    ):
        if value is None:
            checked.append(min(default, connections))
            continue
        number = check_positive_int(name, value)
        if number > connections:
            raise errors.ConfigurationError(
                f"{name}={number} is above max_connections={connections}: "
                "raise max_connections or lower it"
            )
        checked.append(number)
    return connections, checked[0], checked[1]


def invoice_ref(invoice: object) -> tuple[int, str | None]:
    """``(invoice id, invoice number)`` of an id, an Invoice or an InvoiceDetail; the id of a
    model passes the same check as an id given alone (``attrs.evolve`` can put anything in a
    frozen model), and its number must be text (it names the PDF file)."""
    if isinstance(invoice, Invoice | InvoiceDetail):
        number: object = invoice.invoice_number
        if not isinstance(number, str):
            raise errors.ConfigurationError(
                f"invoice number must be a string, got {_shown(number)}"
            )
        return check_invoice_id(invoice.id), number
    return check_invoice_id(invoice), None


def check_directory(directory: object) -> Path:
    if not isinstance(directory, str | os.PathLike):
        raise errors.ConfigurationError(f"directory must be a path, got {directory!r}")
    path = Path(directory)
    if not path.is_dir():
        raise errors.ConfigurationError(f"directory {str(path)!r} does not exist")
    return path


@attrs.frozen
class Settings:
    """Every setting of a client, checked (``check_settings``); the token is not one of them."""

    base_url: str
    page_size: int
    max_connections: int
    max_concurrency: int
    read_ahead: int
    timeout: float
    max_retries: int
    max_response_bytes: int
    max_detail_bytes: int
    max_pdf_bytes: int
    max_per_second: float | None
    deadline: float | None
    max_retry_after: float
    adaptive: bool
    trust_env: bool = False
    ssl: _ssl.SSLContext | Literal[False] | None = None


def check_session_settings(
    trust_env: object, ssl: object, *, borrowed: bool, allow_insecure_http: bool
) -> tuple[bool, _ssl.SSLContext | Literal[False] | None]:
    """``(trust_env, ssl)``, checked: settings of the client's own session, so either with a
    borrowed session is refused; ``ssl=False`` (no certificate check) needs
    ``allow_insecure_http``."""
    trust = check_flag("trust_env", trust_env)
    if ssl is not None and ssl is not False and not isinstance(ssl, _ssl.SSLContext):
        raise errors.ConfigurationError(
            f"ssl must be None, an ssl.SSLContext or False, got {ssl!r}"
        )
    if borrowed and (trust or ssl is not None):
        raise errors.ConfigurationError(
            "trust_env and ssl are settings of the client's own session: with session=, "
            "set them on that session (aiohttp.ClientSession(trust_env=...), its connector's "
            "ssl=...)"
        )
    if ssl is False and not allow_insecure_http:
        raise errors.ConfigurationError(
            "ssl=False turns off the certificate check, so anyone on the way could read the "
            "token; pass an ssl.SSLContext that trusts your CA, or allow_insecure_http=True"
        )
    return trust, ssl


def check_settings(
    *,
    base_url: object,
    allow_insecure_http: object,
    page_size: object,
    max_concurrency: object,
    max_connections: object,
    read_ahead: object,
    timeout: object,
    max_retries: object,
    max_response_bytes: object,
    max_detail_bytes: object,
    max_pdf_bytes: object,
    max_per_second: object,
    deadline: object,
    max_retry_after: object,
    adaptive: object,
    pool: int | None,
    trust_env: object = False,
    ssl: object = None,
) -> Settings:
    """The client's keywords, each checked (ConfigurationError names the first bad one).

    ``pool`` is the size of a borrowed session's pool (None for the client's own).
    """
    insecure = check_flag("allow_insecure_http", allow_insecure_http)
    connections, concurrency, ahead = check_limits(
        max_connections, max_concurrency, read_ahead, pool
    )
    trust, context = check_session_settings(
        trust_env, ssl, borrowed=pool is not None, allow_insecure_http=insecure
    )
    return Settings(
        base_url=check_base_url(base_url, allow_insecure_http=insecure),
        page_size=check_positive_int("page_size", page_size),
        max_connections=connections,
        max_concurrency=concurrency,
        read_ahead=ahead,
        timeout=check_positive_seconds("timeout", timeout),
        max_retries=check_non_negative_int("max_retries", max_retries),
        max_response_bytes=check_positive_int("max_response_bytes", max_response_bytes),
        max_detail_bytes=check_positive_int("max_detail_bytes", max_detail_bytes),
        max_pdf_bytes=check_positive_int("max_pdf_bytes", max_pdf_bytes),
        max_per_second=None
        if max_per_second is None
        else check_positive_seconds("max_per_second", max_per_second),
        deadline=None if deadline is None else check_positive_seconds("deadline", deadline),
        max_retry_after=check_positive_seconds("max_retry_after", max_retry_after),
        adaptive=check_flag("adaptive", adaptive),
        trust_env=trust,
        ssl=context,
    )
