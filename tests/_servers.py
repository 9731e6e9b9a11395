"""A throwaway aiohttp.web server on 127.0.0.1, for tests that need a server of their own."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serve(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port (over TLS with ``ssl_context``); yields its
    base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started
    try:
        yield f"{'http' if ssl_context is None else 'https'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
