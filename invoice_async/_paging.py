"""The one paging loop: ``RANGED-DATA`` windows with a drift guard and read-ahead, and
``PAGE-TOKEN`` pages when the API hands one out.

Offsets move when the list changes during a read: an invoice added at the head repeats items,
one leaving the list (an unpaid invoice being paid) would skip one. So:

- no item id is yielded twice in one iteration (a set of the ids seen: a few MB even for
  100,000 invoices, fine for one account);
- each window after the first starts ``overlap`` items before the end of the previous one, and
  only items after the last already-seen item are new. A window holding no seen item means the
  list moved left past the overlap: the pager steps back a window and looks again, rather than
  skipping;
- an empty window at the exact end position ends the list (a short window is not the end).

Guarantee: every invoice that stays in the list, in the same order, for the whole read is
yielded exactly once. Not guaranteed: invoices added or removed during the read (each is
yielded at most once, or not at all), and a list that reorders its items.

Read-ahead: in the steady state the next ``depth - 1`` windows are requested while the current
one is consumed (their offsets are known in advance). Windows are still processed in order; a
prefetched window whose offset turns out wrong (a short window, a shift) is cancelled and asked
again. ``PAGE-TOKEN`` pages are followed one at a time; a 400 or 410 for a token restarts from
the beginning, the seen ids keeping out repeats.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, Final

import attrs

from . import errors
from ._protocol import Window

DEFAULT_OVERLAP: Final = 3
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
            await self.cancel()
        if not self._windows:
            self._request(start)
        if step is not None and step > 0:
            while len(self._windows) < self._depth:
                self._request(self._windows[-1][0] + step)
        _, task = self._windows.popleft()
        return await task

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
    overlap = max(0, min(overlap, page_size - 1))
    seen: set[object] = set()
    ahead = _ReadAhead(fetch, page_size, depth)
    stride = 0  # the longest window seen: the server's cap, or page_size
    start, expect_overlap, token, restarts = 0, False, None, 0
    try:
        while True:
            steady = token is None and (expect_overlap or start == 0)
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
                start, expect_overlap, token = 0, False, None  # seen ids keep out repeats
                continue
            items = page.items
            last_seen = -1
            for index in range(len(items) - 1, -1, -1):
                if item_key(items[index]) in seen:
                    last_seen = index
                    break
            if expect_overlap and start > 0 and last_seen < 0:
                # The list moved left past the overlap (or shrank below start): step back.
                await ahead.cancel()
                start = max(0, start - max(stride, 1))
                continue
            fresh = []
            for item in items[last_seen + 1 :]:
                key = item_key(item)
                if key is None or key not in seen:
                    fresh.append(item)
                    if key is not None:
                        seen.add(key)
            if fresh:
                yield fresh, page.url
            stride = max(stride, len(items))
            end = start + len(items)
            if page.page_token is not None:
                if token is None:
                    await ahead.cancel()
                start, expect_overlap, token = end, False, page.page_token
            elif token is not None or (not items and not expect_overlap):
                return  # the last token page, or an empty window at the exact end
            elif fresh:
                start, expect_overlap = max(start + 1, end - overlap), overlap > 0
            else:
                # Nothing new: ask at the exact end, where only an empty window ends the list.
                start, expect_overlap = end, False
    finally:
        await ahead.cancel()
