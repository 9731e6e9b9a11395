"""When each request of a client may start: the adaptive pacer, Retry-After pauses, and the
deadline, all on one clock.

Every request of a client, from every fan-out worker and every pager, passes ``wait()`` before
it is sent, and reports its answer (``answered``) or its lack of one (``no_answer``), so one
instance paces and bounds the whole client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from . import errors
from ._pacer import Pacer
from ._protocol import parse_retry_after

THROTTLE_STATUSES = frozenset({429, 503})  # 503 only with a Retry-After


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class Timekeeper:
    """Keeps a client's time: its clock (a fake one in tests), the deadline, the Retry-After
    pauses, and the pace of request starts (:class:`~._pacer.Pacer`: a fixed ceiling, a
    learned rate, rate-limit headers). It holds request starts during a pause, paces them,
    and refuses them past the deadline; backoff sleeps run on its clock too.

    ``clock`` and ``sleep`` are injectable so tests run on a fake clock and never sleep.
    """

    def __init__(
        self,
        per_second: float | None = None,
        *,
        adaptive: bool = True,
        max_retry_after: float = 120.0,
        clock: Callable[[], float] = _loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._per_second, self._adaptive = per_second, adaptive
        self._max_retry_after = max_retry_after
        self._pacer = Pacer(per_second, adaptive=adaptive)
        self._clock = clock
        self._sleep = sleep
        self._paused_until = float("-inf")
        self._deadline: float | None = None
        self._deadline_at: float | None = None
        self.pauses = 0  # pause_until() calls that started or extended the pause
        self.paused_seconds = 0.0  # length of the union of the paused intervals

    @property
    def rate(self) -> float | None:
        """The pace of request starts, in requests per second; None while unpaced."""
        return self._pacer.rate

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
        """Run on another clock (a fake one in tests); pauses and what the pacer learned
        are forgotten."""
        self._clock, self._sleep = clock, sleep
        self._pacer = Pacer(self._per_second, adaptive=self._adaptive, epoch=time.time)
        self._paused_until = float("-inf")
        self._deadline_at = None

    def answered(self, status: int, headers: Mapping[str, str]) -> None:
        """A request that passed :meth:`wait` got an answer: the pacer learns from it (a 429,
        or a 503 with Retry-After, slows it down; rate-limit headers guide it)."""
        now = self._clock()
        retry_after = None
        if status in THROTTLE_STATUSES:
            retry_after = parse_retry_after(headers.get("Retry-After"))
        if status == 429 or retry_after is not None:
            pause = None if retry_after is None else min(retry_after, self._max_retry_after)
            self._pacer.on_throttle(now, pause)
        else:
            self._pacer.on_success(now, headers)

    def no_answer(self) -> None:
        """A request that passed :meth:`wait` got no answer (not sent, or failed on the way)."""
        self._pacer.on_no_answer(self._clock())

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
        """Sleep on the timekeeper's clock; DeadlineExceededError if it would cross the deadline."""
        if self._deadline_at is not None and self._clock() + seconds >= self._deadline_at:
            raise errors.DeadlineExceededError(
                f"the client's deadline of {self._deadline}s would pass during a wait of "
                f"{seconds:.3g}s"
            )
        await self._sleep(seconds)

    async def wait(self) -> None:
        """Return when a request may start: after any pause, at the pacer's pace. A pause
        that comes while waiting holds the request too (its start is given back and asked
        again). Each return must be followed by :meth:`answered` or :meth:`no_answer`.

        Raises DeadlineExceededError when the deadline has passed or the wait would cross it.
        """
        if self._deadline is not None and self._deadline_at is None:
            self._deadline_at = self._clock() + self._deadline
        while True:
            now = self._clock()
            if now < self._paused_until:
                self._check_deadline(now, self._paused_until - now)
                await self._sleep(self._paused_until - now)
                continue
            delay = self._pacer.delay(now)
            try:
                self._check_deadline(now, delay)
                if delay > 0:
                    await self._sleep(delay)
            except BaseException:
                self._pacer.on_no_answer(self._clock())
                raise
            if self._clock() >= self._paused_until:
                return
            self._pacer.on_no_answer(self._clock())  # a pause came meanwhile: wait for it

    def _check_deadline(self, now: float, delay: float) -> None:
        if self._deadline_at is not None and now + max(delay, 0.0) >= self._deadline_at:
            raise errors.DeadlineExceededError(
                f"the client's deadline of {self._deadline}s has passed"
                + (f" (a wait of {delay:.3g}s would cross it)" if delay > 0 else "")
            )
