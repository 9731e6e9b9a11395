"""The one bounded-concurrency loop: map a coroutine function over (async) iterables.

At most ``limit`` calls run at once; the next input is pulled only when a slot is free, so an
input of any length (even an endless generator) costs memory for ``limit`` items, not for all.
Results stream out as they complete, or in input order with ``ordered=True`` (then at most
``limit`` items are started past the oldest one not yet yielded, so the reorder buffer stays
below ``limit`` results).

Failure policy:
- ``on_error="raise"`` (fail fast): the first error cancels every call still running, waits
  for them to end, then raises that error itself (no ExceptionGroup). Results that completed
  before it are yielded first (in ``ordered`` mode, those before it in input order).
- ``on_error="yield"``: every item gives an :class:`Outcome`, holding its result or its error,
  and the loop goes on. Only ``Exception`` is captured; cancellation always propagates.

Closing the iterator (``async with contextlib.aclosing(...)``, or its task being cancelled)
cancels and awaits every call still running, so no task outlives it; an async generator given
as ``items`` that was not used up is closed too (so a listing feeding the loop stops).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import attrs

from ._models import OnError

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class Outcome(Generic[T, R]):
    """What became of one item in ``on_error="yield"`` mode: its result, or its error."""

    item: T
    result: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


class _Source(Generic[T]):
    """Pulls items one at a time from a sync or async iterable."""

    def __init__(self, items: Iterable[T] | AsyncIterable[T]) -> None:
        self._sync = iter(items) if isinstance(items, Iterable) else None
        self._async = aiter(items) if isinstance(items, AsyncIterable) else None
        if self._sync is None and self._async is None:
            raise TypeError(f"expected an iterable or async iterable, got {type(items)!r}")
        self.pending: asyncio.Future[T] | None = None
        self.exhausted = False

    def pull_now(self) -> tuple[bool, T | None]:
        """(True, item) from a sync iterable; else (False, None), starting an async pull."""
        if self._sync is None:
            assert self._async is not None
            self.pending = asyncio.ensure_future(anext(self._async))
            return False, None
        try:
            return True, next(self._sync)
        except StopIteration:
            self.exhausted = True
            return False, None

    async def close(self) -> None:
        """Close an async generator we stopped pulling from early (a listing feeding us)."""
        # Not while it runs (the loop may be closing it already, at shutdown).
        if isinstance(self._async, AsyncGenerator) and not getattr(self._async, "ag_running", 0):
            await self._async.aclose()

    def take_pulled(self) -> tuple[bool, T | None]:
        """The result of a finished async pull: (True, item), or (False, None) at the end."""
        assert self.pending is not None
        pull, self.pending = self.pending, None
        try:
            return True, pull.result()
        except StopAsyncIteration:
            self.exhausted = True
            return False, None


async def cancel_all(tasks: Iterable[asyncio.Future[Any] | None]) -> None:
    """Cancel the tasks still running, wait until they have ended, and mark the errors of all
    of them as retrieved (they no longer matter; asyncio would log them otherwise)."""
    present = [task for task in tasks if task is not None]
    pending = [task for task in present if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in present:
        if not task.cancelled():
            task.exception()


async def bounded_map(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
    ordered: bool = False,
    on_error: OnError = "raise",
) -> AsyncGenerator[R | Outcome[T, R], None]:
    """Yield ``fn(item)`` for each item, at most ``limit`` at once. See the module docstring."""
    source: _Source[T] = _Source(items)
    running: dict[asyncio.Future[R], tuple[int, T]] = {}
    finished: dict[int, tuple[T, asyncio.Future[R]]] = {}  # by position, in completion order
    completed: deque[asyncio.Future[Any]] = deque()  # filled by done callbacks, in order
    wake = asyncio.Event()
    started = next_out = 0

    def on_done(future: asyncio.Future[Any]) -> None:
        completed.append(future)
        wake.set()

    def start(item: T) -> None:
        nonlocal started
        future = asyncio.ensure_future(fn(item))
        future.add_done_callback(on_done)
        running[future] = (started, item)
        started += 1

    try:
        while True:
            # Start calls while a slot is free (in ordered mode: within the window).
            while (
                not source.exhausted
                and source.pending is None
                and len(running) < limit
                and (not ordered or started - next_out < limit)
            ):
                got, item = source.pull_now()
                if got:
                    start(item)  # type: ignore[arg-type]  # got=True means an item
                elif source.pending is not None:
                    source.pending.add_done_callback(on_done)
            if not running and source.pending is None:
                break
            if not completed:
                wake.clear()
                await wake.wait()
            failure: BaseException | None = None
            while completed:
                future = completed.popleft()
                if future is source.pending:
                    try:
                        got, item = source.take_pulled()
                    except Exception as exc:  # noqa: BLE001  # input failed: raised after results
                        failure = exc
                    else:
                        if got:
                            start(item)  # type: ignore[arg-type]  # got=True means an item
                elif future in running:
                    position, item = running.pop(future)
                    finished[position] = (item, future)
            # Hand out what may go out now: all of it, or what is next in input order.
            if ordered:
                ready = []
                while next_out in finished:
                    ready.append(next_out)
                    next_out += 1
            else:
                ready = list(finished)
            for position in ready:
                item, task = finished.pop(position)
                error = task.exception()
                if error is None:
                    result = task.result()
                    yield Outcome(item, result) if on_error == "yield" else result
                elif on_error == "yield" and isinstance(error, Exception):
                    yield Outcome(item, error=error)
                elif failure is None:
                    failure = error
                    if ordered:  # nothing after it may go out in input order
                        break
            if failure is not None:
                raise failure
    finally:
        await cancel_all([*running, source.pending, *(task for _, task in finished.values())])
        if not source.exhausted:
            await source.close()
