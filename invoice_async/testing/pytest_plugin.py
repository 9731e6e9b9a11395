"""pytest fixtures for the fake i3D billing server, and ``instant_retries``.

Enable them with ``pytest_plugins = ["invoice_async.testing.pytest_plugin"]`` in a conftest.py
(or a test module). Needs pytest and pytest-asyncio (the ``test`` extras).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from ._clock import instant_retries as _instant_retries
from ._server import FakeI3DServer

__all__ = [
    "FakeI3DServerFactory",
    "fake_i3d_server",
    "fake_i3d_server_factory",
    "instant_retries",
]

FakeI3DServerFactory = Callable[..., Awaitable[FakeI3DServer]]
"""Type of ``fake_i3d_server_factory``: ``await factory(**FakeI3DServer keywords)``."""


@pytest_asyncio.fixture
async def fake_i3d_server() -> AsyncIterator[FakeI3DServer]:
    """A started :class:`FakeI3DServer` with default settings, stopped after the test."""
    server = FakeI3DServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def fake_i3d_server_factory() -> AsyncIterator[FakeI3DServerFactory]:
    """An async factory: ``server = await fake_i3d_server_factory(page_cap=10)``.

    It starts a :class:`FakeI3DServer` with the given keywords; every server it started is
    stopped after the test.
    """
    started: list[FakeI3DServer] = []

    async def factory(**kwargs: Any) -> FakeI3DServer:
        server = FakeI3DServer(**kwargs)
        await server.start()
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(started):
            await server.stop()


@pytest.fixture
def instant_retries() -> Iterator[None]:
    """The client's retry backoff is zero during the test: see
    :func:`invoice_async.testing.instant_retries` (Retry-After pauses are not affected)."""
    with _instant_retries():
        yield
