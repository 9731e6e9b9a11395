"""The one paging loop: it drives a :class:`~._cursor.Cursor` (which decides everything: the
drift guard, the end, a server that makes no progress) and adds read-ahead and PAGE-TOKEN.

Read-ahead: while answers are productive, the next windows (their offsets are known in
advance) are requested while the current one is consumed: at most ``read_ahead`` in flight, at
most ``2 * read_ahead`` held. Windows are still processed in order; a window asked ahead whose
offset turns out wrong (a short window, a shift, the end) is set aside and let finish, so a
Retry-After in its answer is still honoured; only closing the iterator early cancels the
windows in flight. Every answer, set aside or not, counts towards the cursor's progress.

``PAGE-TOKEN`` pages are followed one at a time; a 400 or 410 for a token restarts from the
beginning, the seen ids keeping out repeats.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

from . import errors
from ._cursor import Ask, Cursor
from ._fanout import cancel_all
from ._idset import Key
from ._protocol import Page, Window
from ._retry import is_retryable

# fetch(window, page_token, ahead): a window asked ahead (maybe never needed) is tried once;
# if it is needed and failed, it is asked again with retries.
FetchPage = Callable[[Window, str | None, bool], Awaitable[Page]]


class _ReadAhead:
    """The windows requested ahead of the one being consumed, in offset order.

    At most ``read_ahead`` requests are in flight; a window that arrives frees its slot for
    the next one at once, not when it is consumed, and at most ``2 * read_ahead`` windows are
    held (in flight or waiting to be consumed). Windows that turn out not to be needed are set
    aside and left to finish (see ``set_aside``). Every request goes past the cursor first.
    """

    def __init__(self, fetch: FetchPage, cursor: Cursor) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._read_ahead = cursor.read_ahead
        self._windows: deque[tuple[int, asyncio.Future[Page], bool]] = deque()
        self._keys: dict[
            asyncio.Future[Page], Sequence[Key | None]
        ] = {}  # of windows still planned
        self._stale: set[asyncio.Future[Page]] = set()
        self._live: set[asyncio.Future[Page]] = set()  # every request not finished yet
        self._step: int | None = None
        self._limit = 1
        self._last_start: int | None = None  # of the last window requested and not set aside
        self._current: asyncio.Future[Page] | None = None  # the window being awaited
        self._closed = False

    def _launch(self, start: int, *, ahead: bool, token: str | None = None) -> asyncio.Future[Page]:
        window = Window(start, self._cursor.page_size)
        task = asyncio.ensure_future(self._fetch(window, token, ahead))
        self._live.add(task)
        task.add_done_callback(self._arrived)
        return task

    def _request(self, start: int, *, ahead: bool) -> None:
        self._cursor.sending(needed=not ahead)
        self._windows.append((start, self._launch(start, ahead=ahead), ahead))
        self._last_start = start

    def _arrived(self, task: asyncio.Future[Page]) -> None:
        self._live.discard(task)
        if task.cancelled() or task.exception() is not None:
            self._cursor.lost()
        else:
            page = task.result()
            keys = self._cursor.heard(page.items, page.keys)
            if task not in self._stale:
                self._keys[task] = keys
        self._top_up()

    def _top_up(self) -> None:
        """Request the next planned windows while a slot and room are free."""
        if self._closed or self._step is None or self._last_start is None:
            return
        # The window being consumed counts against the limit too.
        while (
            len(self._windows) + 1 < self._limit
            and len(self._live) < self._read_ahead
            and self._cursor.may_ask_ahead()
        ):
            self._request(self._last_start + self._step, ahead=True)

    async def take(self, ask: Ask) -> tuple[Page, Sequence[Key | None]]:
        """The page at ``ask.start`` and its keys; plans the windows after it as ``ask``
        says. Raises what its request raised, or PagingError before a request the cursor
        refuses."""
        if self._windows and self._windows[0][0] != ask.start:
            self.set_aside()
        self._step, self._limit = ask.step, ask.limit
        if not self._windows:
            await self._wait_for_a_slot()
            self._request(ask.start, ahead=False)
        _, task, ahead = self._windows.popleft()
        self._top_up()
        self._current = task  # close() cancels it if the listing stops while it is awaited
        await asyncio.wait([task])
        if ahead and not task.cancelled() and is_retryable(task.exception()):
            # It was asked ahead without retries, and it is needed: ask again, with them.
            await self._wait_for_a_slot()
            self._cursor.resending()
            task = self._current = self._launch(ask.start, ahead=False)
            await asyncio.wait([task])
        page = task.result()  # raises the request's error
        return page, self._keys.pop(task)

    async def follow(self, ask: Ask) -> tuple[Page, Sequence[Key | None]]:
        """The PAGE-TOKEN page that ``ask`` names, and its keys: one at a time, in a slot of
        its own (windows planned before the token are set aside)."""
        self.set_aside()
        await self._wait_for_a_slot()
        self._cursor.sending(needed=True)
        task = self._current = self._launch(ask.start, ahead=False, token=ask.token)
        await asyncio.wait([task])
        page = task.result()  # raises the request's error
        return page, self._keys.pop(task)

    async def _wait_for_a_slot(self) -> None:
        while len(self._live) >= self._read_ahead:  # windows set aside still hold the slots
            await asyncio.wait(set(self._live), return_when=asyncio.FIRST_COMPLETED)

    def set_aside(self) -> None:
        """Drop the windows planned so far without cancelling them.

        An answer that is never read could hold a Retry-After that the client would then not
        honour; they finish in the background and are awaited when the listing ends.
        """
        for _, task, _ in self._windows:
            self._keys.pop(task, None)
            self._stale.add(task)
        self._windows.clear()
        self._last_start = None
        self._stale = {task for task in self._stale if not task.done() or _mark_retrieved(task)}

    async def close(self, *, drain: bool) -> None:
        """Wait for every window still in flight (``drain``), or cancel them all."""
        self._closed = True
        tasks = [*(task for _, task, _ in self._windows), *self._stale]
        if self._current is not None:
            tasks.append(self._current)
        self._windows.clear()
        self._stale.clear()
        self._keys.clear()
        if drain:
            if tasks:
                await asyncio.wait(tasks)
            for task in tasks:
                _mark_retrieved(task)
        else:
            await cancel_all(tasks)


def _mark_retrieved(task: asyncio.Future[Page]) -> bool:
    """Mark a finished task's error as seen (it no longer matters); always False."""
    if not task.cancelled():
        task.exception()
    return False


async def paginate(
    fetch: FetchPage, *, page_size: int, read_ahead: int = 1
) -> AsyncGenerator[tuple[list[Any], str], None]:
    """Yield ``(new_items, url)`` per page until the list ends; see ``_cursor`` for what is
    guaranteed. Raises what a request raised, or PagingError when the server makes no
    progress."""
    cursor = Cursor(page_size, read_ahead)
    ahead = _ReadAhead(fetch, cursor)
    finished = False
    try:
        while True:
            ask = cursor.ask()
            try:
                if ask.token is None:
                    page, keys = await ahead.take(ask)
                else:
                    page, keys = await ahead.follow(ask)
            except errors.ApiError as error:
                if cursor.restart(error):
                    continue
                raise
            step = cursor.take(page.items, keys, url=page.url, page_token=page.page_token)
            if step.fresh:
                yield step.fresh, page.url
            if step.ended:
                finished = True
                return
    finally:
        # At the end, windows asked past it are let finish; on an error or an early close,
        # everything still in flight is cancelled.
        await ahead.close(drain=finished)
