"""Client-wide pacing of request starts: an optional rate cap, and pauses (Retry-After).

Every request of a client, from every fan-out worker and every pager, passes ``wait()`` before
it is sent, so one instance bounds the whole client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from . import errors


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
        self._deadline: float | None = None
        self._deadline_at: float | None = None
        self.pauses = 0  # pause_until() calls that started or extended the pause
        self.paused_seconds = 0.0  # length of the union of the paused intervals

    def set_deadline(self, seconds: float | None) -> None:
        """Allow no request start later than ``seconds`` after the first one (None: no limit)."""
        self._deadline, self._deadline_at = seconds, None

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None when there is none (or it has not begun)."""
        if self._deadline_at is None:
            return None
        return self._deadline_at - self._clock()

    def use_clock(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        """Run on another clock (a fake one in tests); pending pauses are forgotten."""
        self._clock, self._sleep = clock, sleep
        self._next_start = self._paused_until = float("-inf")
        self._deadline_at = None

    def reserve(self, now: float) -> float:
        """Reserve the next start at or after ``now``; return how long to wait for it."""
        start = max(now, self._next_start, self._paused_until)
        if self._interval:
            self._next_start = start + self._interval
        return start - now

    def pause_until(self, when: float) -> None:
        """Hold every request start until ``when`` (clock time); an earlier pause is kept.

        Counts the pause in ``pauses`` and ``paused_seconds`` when it starts or extends the
        pause; a pause within the current one adds nothing, an overlapping one only its end.
        """
        added = when - max(self._clock(), self._paused_until)
        if added > 0:
            self.pauses += 1
            self.paused_seconds += added
        self._paused_until = max(self._paused_until, when)

    @property
    def paused_until(self) -> float:
        """Clock time before which no request may start."""
        return self._paused_until

    def now(self) -> float:
        """The throttle's clock."""
        return self._clock()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the throttle's clock; DeadlineExceededError if it would cross the deadline."""
        if self._deadline_at is not None and self._clock() + seconds >= self._deadline_at:
            raise errors.DeadlineExceededError(
                f"the client's deadline of {self._deadline}s would pass during a wait of "
                f"{seconds:.3g}s"
            )
        await self._sleep(seconds)

    async def wait(self) -> None:
        """Return when a request may start; re-checks after sleeping, as a pause may have come.

        Raises DeadlineExceededError when the deadline has passed or the wait would cross it.
        """
        if self._deadline is not None and self._deadline_at is None:
            self._deadline_at = self._clock() + self._deadline
        while True:
            now = self._clock()
            delay = self.reserve(now)
            if self._deadline_at is not None and now + max(delay, 0.0) >= self._deadline_at:
                raise errors.DeadlineExceededError(
                    f"the client's deadline of {self._deadline}s has passed"
                    + (f" (a wait of {delay:.3g}s would cross it)" if delay > 0 else "")
                )
            if delay <= 0:
                return
            await self._sleep(delay)
            if self._clock() >= self._paused_until:
                return
