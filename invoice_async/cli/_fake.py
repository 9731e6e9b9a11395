"""``fake-server``: the embedded fake API on 127.0.0.1 until Ctrl-C, for trying the commands
and testing one's own tools without an account."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys

from .._protocol import TOKEN_ENV_VAR
from ..testing import OPENAPI_PATH, FakeI3DServer
from ._output import Done
from ._parser import BASE_URL_ENV


async def fake_server_command(args: argparse.Namespace) -> Done:
    """Serve until cancelled (Ctrl-C); prints the URL and the token first."""
    token = secrets.token_urlsafe(24)
    server = FakeI3DServer(
        token=token, count=args.count, latency=args.latency_ms / 1000, port=args.port
    )
    async with server as base_url:
        sys.stdout.write(
            f"fake i3D.net API with {args.count:,} invoices on {base_url} (Ctrl-C stops it)\n"
            f"its OpenAPI document: {base_url}{OPENAPI_PATH}\n"
            f"export {BASE_URL_ENV}={base_url}\n"
            f"export {TOKEN_ENV_VAR}={token}\n"
        )
        sys.stdout.flush()
        await asyncio.Event().wait()  # until Ctrl-C cancels it
    return Done()
