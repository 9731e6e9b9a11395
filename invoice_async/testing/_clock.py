"""A fake clock, so tests of pauses, rate caps and deadlines never sleep for real."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

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
    client._throttle.use_clock(clock, clock.sleep)  # the package's own hook
