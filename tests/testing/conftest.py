"""Fixtures of the fake server's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session (not the project's client)."""
    async with aiohttp.ClientSession() as client:
        yield client
