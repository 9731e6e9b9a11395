"""Client-wide pacing of request starts: an optional rate cap, and pauses (Retry-After).

Every request of a client, from every fan-out worker and every pager, passes ``wait()`` before
it is sent, so one instance bounds the whole client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class Throttle:
    """Spaces request starts at least ``1 / per_second`` apart, and holds them during a pause.

    ``clock`` and ``sleep`` are injectable so tests run on a fake clock and never sleep.
    """

    def __init__(
        self,
        per_second: float | None = None,
        *,
        clock: Callable[[], float] = _loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 0.0 if per_second is None else 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next_start = float("-inf")
        self._paused_until = float("-inf")

    def reserve(self, now: float) -> float:
        """Reserve the next start at or after ``now``; return how long to wait for it."""
        start = max(now, self._next_start, self._paused_until)
        if self._interval:
            self._next_start = start + self._interval
        return start - now

    def pause_until(self, when: float) -> None:
        """Hold every request start until ``when`` (clock time); an earlier pause is kept."""
        self._paused_until = max(self._paused_until, when)

    @property
    def paused_until(self) -> float:
        """Clock time before which no request may start."""
        return self._paused_until

    def now(self) -> float:
        """The throttle's clock."""
        return self._clock()

    async def wait(self) -> None:
        """Return when a request may start; re-checks after sleeping, as a pause may have come."""
        while True:
            delay = self.reserve(self._clock())
            if delay <= 0:
                return
            await self._sleep(delay)
            if self._clock() >= self._paused_until:
                return
