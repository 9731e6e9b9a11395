"""The one paging loop over ``RANGED-DATA`` windows (a loop, never recursion)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ._protocol import Window, next_window

T = TypeVar("T")

FetchWindow = Callable[[Window], Awaitable[tuple[Sequence[Any], str]]]


async def iterate_windows(
    fetch: FetchWindow, page_size: int
) -> AsyncIterator[tuple[Sequence[Any], str]]:
    """Yield ``(items, url)`` for each window until the API answers an empty one.

    The next window starts where the items received end (a server may cap a window below what
    was asked while more remain); only an empty window ends the list. Only one window is held
    at a time.
    """
    window: Window | None = Window(0, page_size)
    while window is not None:
        items, url = await fetch(window)
        if items:
            yield items, url
        window = next_window(window, len(items))
