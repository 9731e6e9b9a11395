"""Helpers that drive a client in tests: a fake clock, so pauses, rate caps and deadlines
never sleep for real, and the switch that makes retry backoff zero. (The only module of
``testing`` that touches the client's internals.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import _retry

if TYPE_CHECKING:
    from .._client import InvoiceClient


class FakeClock:
    """Time that moves only when something sleeps on it: ``await sleep(d)`` adds ``d`` at once.

    Call it for the time (``clock()``), so one instance can drive both the fake server
    (``FakeI3DServer(clock=clock)``) and a client (``use_fake_clock(client, clock)``); then a
    client that honours a Retry-After "waits" it in no real time, and the server can still tell
    whether a request came early. ``sleeps`` lists every sleep asked for.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        """Record the sleep, move time forward, and yield to the event loop once."""
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def use_fake_clock(client: InvoiceClient, clock: FakeClock) -> None:
    """Run the client's pauses (Retry-After), retry backoff, rate cap and deadline on ``clock``.

    The backoff then "waits" on the fake clock too (its real values show in
    ``clock.sleeps``); to skip it altogether use :func:`instant_retries`.
    """
    client._time.use_clock(clock, clock.sleep)  # the package's own hook


@contextlib.contextmanager
def instant_retries(enabled: bool = True) -> Iterator[None]:
    """Make the retry backoff of every client zero inside the block (also a decorator).

    Retries still happen, as many as ``max_retries`` says; only the backoff between them
    (see the README's "Retries") is skipped. ``Retry-After`` pauses are not affected: they
    run on the client's clock, so use :class:`FakeClock` with :func:`use_fake_clock` for them.

    ``instant_retries(False)`` gives the real backoff again inside the block (for a test of
    the backoff itself on a fake clock). Blocks nest; each restores the setting it found.
    The setting is process-wide (every client, every thread), like a test run.

    With pytest, the plugin ``invoice_async.testing.pytest_plugin`` offers it as the fixture
    ``instant_retries``.
    """
    previous = _retry.set_instant_backoff(enabled)
    try:
        yield
    finally:
        _retry.set_instant_backoff(previous)
