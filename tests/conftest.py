"""Shared test setup."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aioresponses.core
import pytest
import stamina
from aiohttp import ClientResponse
from yarl import URL


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """stamina's testing switch: retry backoff is zero, the client's max_retries still counts.

    (Retry-After pauses go through the client's throttle; tests that meet one use a fake
    clock, see invoice_async.testing.FakeClock.)
    """
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


# --- aioresponses 0.7.9 on aiohttp 3.14 ------------------------------------------------------
# aiohttp 3.14 (a security release we keep) added a required keyword-only argument
# `stream_writer` to ClientResponse.__init__; aioresponses 0.7.9 builds responses without it and
# fails with "missing 1 required keyword-only argument: 'stream_writer'" (upstream aioresponses
# issue #289). Until upstream is fixed, give it a response class that supplies a stand-in
# writer: aiohttp only reads its `output_size` when the request was already sent.
# Remove this shim once aioresponses ships a release that passes `stream_writer`.


class _CompatClientResponse(ClientResponse):
    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


aioresponses.core.ClientResponse = _CompatClientResponse  # type: ignore[attr-defined]  # shim
