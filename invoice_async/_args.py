"""Checks of the client's arguments; each raises ConfigurationError before any request."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable
from pathlib import Path

import aiohttp

from . import _protocol, errors
from ._fanout import OnError
from ._models import Invoice, InvoiceDetail


def check_retries(max_retries: object) -> int | None:
    if max_retries is None:
        return None
    return _protocol.check_non_negative_int("max_retries", max_retries)


def check_on_error(on_error: object) -> OnError:
    if on_error not in ("raise", "yield"):
        raise errors.ConfigurationError(f"on_error must be 'raise' or 'yield', got {on_error!r}")
    return on_error


def check_items(items: object, name: str) -> None:
    if not isinstance(items, Iterable | AsyncIterable) or isinstance(items, str | bytes):
        raise errors.ConfigurationError(f"{name} must be an iterable or async iterable of ids")


def check_borrowed_session(session: object, max_concurrency: int) -> None:
    if not isinstance(session, aiohttp.ClientSession):
        raise errors.ConfigurationError("session must be an aiohttp.ClientSession or None")
    connector = session.connector
    if connector is None:
        return
    limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
    if limits and min(limits) < max_concurrency:
        raise errors.ConfigurationError(
            f"the borrowed session's connector allows {min(limits)} connections, fewer than "
            f"max_concurrency={max_concurrency}: lower max_concurrency or raise its limit"
        )


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
