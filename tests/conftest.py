"""Shared test setup."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aioresponses
import aioresponses.core
import pytest
from aiohttp import ClientResponse
from yarl import URL

from invoice_async.testing import FakeClock, instant_retries

# The package's fixtures (fake_i3d_server, fake_i3d_server_factory, instant_retries).
pytest_plugins = ["invoice_async.testing.pytest_plugin"]


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY")


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test (nor the CLI it starts) goes through a proxy the machine's environment names:
    the CLI honours it by default, and every test server is on 127.0.0.1. The proxy tests set
    their own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """The client's testing switch: retry backoff is zero, max_retries still counts.

    (Retry-After pauses go through the client's throttle; tests that meet one use a fake
    clock, see invoice_async.testing.FakeClock. Tests of the backoff itself turn the switch
    off with ``instant_retries(False)``.)
    """
    with instant_retries():
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


@pytest.fixture
def http() -> Iterator[aioresponses.aioresponses]:
    """HTTP faked by aioresponses for the test (a module may define its own)."""
    with aioresponses.aioresponses() as mocked:
        yield mocked


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock for the test."""
    return FakeClock()
