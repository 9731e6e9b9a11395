"""Checks of the client's arguments; each raises ConfigurationError before any request."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from typing import Any, Final

import aiohttp

from . import _protocol, errors
from ._fanout import OnError
from ._models import Invoice, InvoiceDetail

DEFAULT_MAX_CONNECTIONS: Final = 100  # aiohttp's and httpx's default pool size
DEFAULT_MAX_CONCURRENCY: Final = 8
DEFAULT_READ_AHEAD: Final = 4


def check_retries(max_retries: object) -> int | None:
    if max_retries is None:
        return None
    return _protocol.check_non_negative_int("max_retries", max_retries)


def check_on_error(on_error: object) -> OnError:
    if on_error not in ("raise", "yield"):
        raise errors.ConfigurationError(f"on_error must be 'raise' or 'yield', got {on_error!r}")
    return on_error


def check_items(items: object, name: str) -> Iterable[Any] | AsyncIterable[Any]:
    """An iterable or async iterable (not a string)."""
    if not isinstance(items, Iterable | AsyncIterable) or isinstance(items, str | bytes):
        raise errors.ConfigurationError(f"{name} must be an iterable or async iterable of ids")
    return items


def check_concurrency(value: object, *, default: int, ceiling: int) -> int:
    """A call's ``concurrency``: ``default`` (the client's max_concurrency) when None.

    Above max_concurrency is fine (that is only the default); above max_connections
    (``ceiling``) the client-wide bound would cap it silently, so it is refused.
    """
    if value is None:
        return default
    limit = _protocol.check_positive_int("concurrency", value)
    if limit > ceiling:
        raise errors.ConfigurationError(
            f"concurrency={limit} is above the client's max_connections={ceiling}; "
            "raise max_connections on the client"
        )
    return limit


def borrowed_pool_size(session: object) -> int:
    """How many connections a borrowed session's pool allows: the smaller non-zero of its
    connector's ``limit`` and ``limit_per_host``; an unlimited pool counts as
    ``DEFAULT_MAX_CONNECTIONS``."""
    if not isinstance(session, aiohttp.ClientSession):
        raise errors.ConfigurationError("session must be an aiohttp.ClientSession or None")
    connector = session.connector
    if connector is None:  # a closed session: it fails at the first request anyway
        return DEFAULT_MAX_CONNECTIONS
    limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
    return min(limits) if limits else DEFAULT_MAX_CONNECTIONS


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
        connections = _protocol.check_positive_int("max_connections", max_connections)
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
        number = _protocol.check_positive_int(name, value)
        if number > connections:
            raise errors.ConfigurationError(
                f"{name}={number} is above max_connections={connections}: "
                "raise max_connections or lower it"
            )
        checked.append(number)
    return connections, checked[0], checked[1]


def check_invoice_id(value: object) -> int:
    """An invoice id is a positive int (not a bool, not a string)."""
    return _protocol.check_invoice_id(value)


def invoice_ref(invoice: object) -> tuple[int, str | None]:
    if isinstance(invoice, Invoice | InvoiceDetail):
        return invoice.id, invoice.invoice_number
    return _protocol.check_invoice_id(invoice), None


def check_directory(directory: object) -> Path:
    if not isinstance(directory, str | os.PathLike):
        raise errors.ConfigurationError(f"directory must be a path, got {directory!r}")
    path = Path(directory)
    if not path.is_dir():
        raise errors.ConfigurationError(f"directory {str(path)!r} does not exist")
    return path
