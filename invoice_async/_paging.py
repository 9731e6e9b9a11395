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
from ._protocol import Window

DEFAULT_OVERLAP: Final = 1
MAX_TOKEN_RESTARTS: Final = 3
TOKEN_RESTART_STATUSES: Final = frozenset({400, 410})


@attrs.frozen
class Page:
    """One answer of a list endpoint."""

    items: Sequence[Any]
    url: str
    page_token: str | None = None


FetchPage = Callable[[Window, str | None], Awaitable[Page]]


def item_key(item: Any) -> object:
    """The identity of a raw list item: its id as text (``"12"`` and ``12`` are the same)."""
    if isinstance(item, dict):
        value = item.get("id")
        if value is not None:
            return str(value)
    return None


async def _cancel(tasks: Sequence[asyncio.Task[Page]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: a prefetch that failed before it was cancelled


class _ReadAhead:
    """The windows requested ahead of the one being consumed, in offset order."""

    def __init__(self, fetch: FetchPage, page_size: int, depth: int) -> None:
        self._fetch = fetch
        self._page_size = page_size
        self._depth = depth
        self._windows: deque[tuple[int, asyncio.Task[Page]]] = deque()

    def _request(self, start: int) -> None:
        window = Window(start, self._page_size)
        self._windows.append((start, asyncio.ensure_future(self._fetch(window, None))))

    async def take(self, start: int, *, step: int | None) -> Page:
        """The page at ``start``; with a ``step``, also request the next windows ahead."""
        if self._windows and self._windows[0][0] != start:
            await self.discard()
        if not self._windows:
            self._request(start)
        if step is not None and step > 0:
            while len(self._windows) < self._depth:
                self._request(self._windows[-1][0] + step)
        _, task = self._windows.popleft()
        return await task

    async def discard(self) -> None:
        """Let the windows requested ahead finish, and drop them.

        They are not cancelled: an answer the client never reads could hold a Retry-After
        that the client would then not honour. Their errors do not matter any more.
        """
        tasks = [task for _, task in self._windows]
        self._windows.clear()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved, and dropped

    async def cancel(self) -> None:
        """Cancel every window requested ahead, and wait until they are gone."""
        tasks = [task for _, task in self._windows]
        self._windows.clear()
        await _cancel(tasks)


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
    try:
        while True:
            steady = token is None and full and (anchored or start == 0)
            step = (stride or page_size) - overlap if steady and depth > 1 else None
            try:
                if token is None:
                    page = await ahead.take(start, step=step)
                else:
                    page = await fetch(Window(start, page_size), token)
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
                await ahead.discard()
                start, full = max(0, start - max(stride, 1)), False
                continue
            fresh = _fresh(items, keys, last_seen + 1, seen)
            if fresh:
                yield fresh, page.url
            stride = max(stride, len(items))
            full = len(items) >= stride
            if page.page_token is not None:
                if token is None:
                    await ahead.discard()
                start, anchored, token = start + len(items), False, page.page_token
            elif token is not None or not items:
                await ahead.discard()
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
        await ahead.cancel()


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
