"""The one paging loop: ``RANGED-DATA`` windows with a drift guard and read-ahead, and
``PAGE-TOKEN`` pages when the API hands one out.

Offsets move when the list changes during a read: an invoice added at the head repeats items,
one leaving the list (an unpaid invoice being paid) would skip one. So:

- no item id is yielded twice in one iteration (a set of the ids seen: a few MB even for
  100,000 invoices, fine for one account);
- each window after the first starts at the last item of the previous one (``overlap=1``),
  and only items after the last already-seen item are new. A window holding no seen item means the
  list moved left past the overlap: the pager steps back a window and looks again, rather than
  skipping;
- a short window is not the end: the list ends when a window asked at the last seen item holds
  nothing after it and the window right after that is empty. Asking at the last seen item
  first means a shift just before the end is caught like any other.

Guarantee: every invoice that stays in the list, in the same order, for the whole read is
yielded exactly once. Not guaranteed: invoices added or removed during the read (each is
yielded at most once, or not at all), a list that reorders its items, and reads whose windows
hold a single item (``page_size=1``, or a server answering one item at a time), which cannot
overlap: those still never repeat an item, but a shift can skip one.

Read-ahead: in the steady state the next ``depth - 1`` windows are requested while the current
one is consumed (their offsets are known in advance). Windows are still processed in order; a
prefetched window whose offset turns out wrong (a short window, a shift, the end) is let finish
and dropped, so a Retry-After in its answer is still honoured; only closing the iterator early
cancels the windows in flight.

``PAGE-TOKEN`` pages are followed one at a time; a 400 or 410 for a token restarts from the
beginning, the seen ids keeping out repeats.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, Final

import attrs

from . import errors
from ._fanout import cancel_all
from ._protocol import Window
from ._retry import is_retryable

DEFAULT_OVERLAP: Final = 1
MAX_TOKEN_RESTARTS: Final = 3
TOKEN_RESTART_STATUSES: Final = frozenset({400, 410})


@attrs.frozen
class Page:
    """One answer of a list endpoint."""

    items: Sequence[Any]
    url: str
    page_token: str | None = None


# fetch(window, page_token, speculative): a speculative window (asked ahead, maybe never
# needed) is tried once; if it is needed and failed, it is asked again with retries.
FetchPage = Callable[[Window, str | None, bool], Awaitable[Page]]


def item_key(item: Any) -> object:
    """The identity of a raw list item: its id as text (``"12"`` and ``12`` are the same)."""
    if isinstance(item, dict):
        value = item.get("id")
        if value is not None:
            return str(value)
    return None


class _ReadAhead:
    """The windows requested ahead of the one being consumed, in offset order.

    At most ``depth`` requests are in flight; a window that arrives frees its slot for the
    next one at once, not when it is consumed, and at most ``2 * depth`` windows are held
    (in flight or waiting to be consumed), so memory stays a few windows. Windows that turn
    out not to be needed are set aside and left to finish (see ``set_aside``).
    """

    def __init__(self, fetch: FetchPage, page_size: int, depth: int) -> None:
        self._fetch = fetch
        self._page_size = page_size
        self._depth = depth
        self._windows: deque[tuple[int, asyncio.Future[Page], bool]] = deque()
        self._stale: list[asyncio.Future[Page]] = []
        self._live: set[asyncio.Future[Page]] = set()  # every request not finished yet
        self._step: int | None = None
        self._limit = 1
        self._last_start: int | None = None  # of the last window requested and not set aside
        self._current: asyncio.Future[Page] | None = None  # the window being awaited
        self._closed = False

    def _launch(self, start: int, *, speculative: bool) -> asyncio.Future[Page]:
        window = Window(start, self._page_size)
        task = asyncio.ensure_future(self._fetch(window, None, speculative))
        self._live.add(task)
        task.add_done_callback(self._arrived)
        return task

    def _request(self, start: int, *, speculative: bool) -> None:
        self._windows.append((start, self._launch(start, speculative=speculative), speculative))
        self._last_start = start

    def _arrived(self, task: asyncio.Future[Page]) -> None:
        self._live.discard(task)
        self._top_up()

    def _top_up(self) -> None:
        """Request the next planned windows while a slot and room are free."""
        if self._closed or self._step is None or self._last_start is None:
            return
        # The window being consumed counts against the limit too.
        while len(self._windows) + 1 < self._limit and len(self._live) < self._depth:
            self._request(self._last_start + self._step, speculative=True)

    async def take(self, start: int, *, step: int | None, limit: int) -> Page:
        """The page at ``start``; with a ``step``, keep up to ``limit`` windows planned after
        it, ``step`` apart."""
        if self._windows and self._windows[0][0] != start:
            self.set_aside()
        self._step, self._limit = step, limit
        if not self._windows:
            await self._wait_for_a_slot()
            self._request(start, speculative=False)
        _, task, speculative = self._windows.popleft()
        self._top_up()
        self._current = task  # close() cancels it if the listing stops while it is awaited
        await asyncio.wait([task])
        if speculative and not task.cancelled() and is_retryable(task.exception()):
            # It was asked ahead without retries, and it is needed: ask again, with them.
            _retrieve(task)
            await self._wait_for_a_slot()
            task = self._current = self._launch(start, speculative=False)
        return await task

    async def _wait_for_a_slot(self) -> None:
        while len(self._live) >= self._depth:  # windows set aside still hold the slots
            await asyncio.wait(set(self._live), return_when=asyncio.FIRST_COMPLETED)

    def set_aside(self) -> None:
        """Drop the windows planned so far without cancelling them.

        An answer that is never read could hold a Retry-After that the client would then not
        honour; they finish in the background and are awaited when the listing ends.
        """
        self._stale.extend(task for _, task, _ in self._windows)
        self._windows.clear()
        self._last_start = None
        self._stale = [task for task in self._stale if not task.done() or _retrieve(task)]

    async def close(self, *, drain: bool) -> None:
        """Wait for every window still in flight (``drain``), or cancel them all."""
        self._closed = True
        tasks = [*(task for _, task, _ in self._windows), *self._stale]
        if self._current is not None:
            tasks.append(self._current)
        self._windows.clear()
        self._stale.clear()
        if drain:
            if tasks:
                await asyncio.wait(tasks)
            for task in tasks:
                _retrieve(task)
        else:
            await cancel_all(tasks)


def _retrieve(task: asyncio.Future[Page]) -> bool:
    """Mark a finished task's error as seen (it no longer matters); always False."""
    if not task.cancelled():
        task.exception()
    return False


async def paginate(
    fetch: FetchPage,
    *,
    page_size: int,
    depth: int = 1,
    overlap: int = DEFAULT_OVERLAP,
) -> AsyncGenerator[tuple[list[Any], str], None]:
    """Yield ``(new_items, url)`` per page until the list ends. See the module docstring."""
    overlap = max(1, min(overlap, page_size - 1)) if page_size > 1 else 0
    seen: set[object] = set()
    ahead = _ReadAhead(fetch, page_size, depth)
    stride = 0  # the longest window seen: the server's cap, or page_size
    start, anchored, full, token, restarts = 0, False, True, None, 0
    finished = False
    try:
        while True:
            step, limit = None, 1
            if token is None and depth > 1:
                if full and (anchored or start == 0):  # the steady state: plan the next ones
                    step, limit = (stride or page_size) - overlap, 2 * depth
                elif anchored:  # after a short window: ask the end's two windows at once
                    step, limit = 1, 2
            try:
                if token is None:
                    page = await ahead.take(start, step=step, limit=limit)
                else:
                    page = await fetch(Window(start, page_size), token, False)
            except errors.ApiError as error:
                if token is None or error.status not in TOKEN_RESTART_STATUSES:
                    raise
                restarts += 1
                if restarts > MAX_TOKEN_RESTARTS:
                    raise
                start, anchored, token = 0, False, None  # the seen ids keep out repeats
                continue
            items = page.items
            keys = [item_key(item) for item in items]
            last_seen = _last_seen(keys, seen)
            if anchored and start > 0 and last_seen < 0:
                # No seen item where one was expected: the list moved left past the
                # overlap (or shrank below start). Step back rather than skip.
                ahead.set_aside()
                start, full = max(0, start - max(stride, 1)), False
                continue
            fresh = _fresh(items, keys, last_seen + 1, seen)
            if fresh:
                yield fresh, page.url
            stride = max(stride, len(items))
            full = len(items) >= stride
            if page.page_token is not None:
                if token is None:
                    ahead.set_aside()
                start, anchored, token = start + len(items), False, page.page_token
            elif token is not None or not items:
                finished = True
                return  # the last token page, or an empty window
            elif fresh:
                end = start + len(items)
                start = max(start + 1, end - overlap)
                anchored = start < end  # a window of one item cannot overlap
            elif stride == 1:
                start, anchored = start + len(items), False  # one-item windows: walk on
            elif anchored and last_seen == 0 and len(items) == 1:
                # The window at the last seen item holds no more: the list ends there, and
                # the empty window right after it confirms.
                start, anchored = start + 1, False
            else:
                # Nothing new after the last seen item: look again from that item itself, so
                # a shift in between shows as a missing anchor instead of a skipped item.
                start, anchored = start + last_seen, True
    finally:
        # At the end, windows asked past it are let finish; on an error or an early close,
        # everything still in flight is cancelled.
        await ahead.close(drain=finished)


def _last_seen(keys: Sequence[object], seen: set[object]) -> int:
    """The index of the last item already yielded, or -1."""
    for index in range(len(keys) - 1, -1, -1):
        if keys[index] in seen:
            return index
    return -1


def _fresh(
    items: Sequence[Any], keys: Sequence[object], begin: int, seen: set[object]
) -> list[Any]:
    """The items from ``begin`` on not yielded yet, now marked as seen."""
    fresh = []
    for index in range(begin, len(items)):
        key = keys[index]
        if key is None or key not in seen:
            fresh.append(items[index])
            if key is not None:
                seen.add(key)
    return fresh
