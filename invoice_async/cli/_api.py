"""The client a command reads with: the real API (token, base URL, proxies, CA bundle and the
client's settings from the options), or the embedded fake server for ``--demo``."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from .. import InvoiceClient, errors
from .._protocol import DEFAULT_BASE_URL, TOKEN_ENV_VAR
from ._parser import BASE_URL_ENV, GLOBALS

DEMO_INVOICES: Final = 1000
DEMO_LATENCY: Final = 0.01  # seconds per answer: enough to watch the progress bar move
FANS_OUT: Final = next(spec.commands for spec in GLOBALS if spec.dest == "concurrency")
"""The commands that take ``--concurrency``."""


def read_token(args: argparse.Namespace) -> str | None:
    """The token of ``--token-file``, else of ``I3D_API_TOKEN`` (None: the client says so)."""
    if args.token_file is None:
        return os.environ.get(TOKEN_ENV_VAR)
    try:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise errors.ConfigurationError(
            f"cannot read --token-file {str(args.token_file)!r}: {exc.strerror}"
        ) from None


def base_url(args: argparse.Namespace) -> str:
    """``--base-url``, else ``$I3D_BASE_URL``, else the API's."""
    return args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


def ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """A context that trusts the CAs of ``--ca-bundle`` only; None: the system's CAs."""
    if args.ca_bundle is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(args.ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise errors.ConfigurationError(
            f"cannot use --ca-bundle {str(args.ca_bundle)!r}: {reason}"
        ) from None


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "page_size": args.page_size,
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "max_per_second": args.max_per_second,
        "deadline": args.deadline,
    }
    if args.command in FANS_OUT:
        # --concurrency N is the most requests at once for the whole run, so it is the
        # client's max_connections (any N works, above 100 too) and its fan-outs' default.
        settings["max_concurrency"] = settings["max_connections"] = args.concurrency
    return settings


@contextlib.asynccontextmanager
async def open_client(args: argparse.Namespace) -> AsyncIterator[InvoiceClient]:
    """The client to read with, closed on exit.

    The real API is reached as curl and pip reach it: through the proxy that
    ``HTTP(S)_PROXY`` names unless ``NO_PROXY`` lists the host. The embedded server of
    ``--demo`` is always reached directly.
    """
    settings = _settings(args)
    if not args.demo:
        client = InvoiceClient(
            read_token(args),
            base_url=base_url(args),
            trust_env=True,
            ssl=ssl_context(args),
            **settings,
        )
        async with client:
            yield client
        return
    from ..testing import FakeI3DServer  # only the demo needs the fake server

    token = secrets.token_urlsafe(24)
    server = FakeI3DServer(token=token, count=DEMO_INVOICES, latency=DEMO_LATENCY)
    async with server as url, InvoiceClient(token, base_url=url, **settings) as client:
        yield client
