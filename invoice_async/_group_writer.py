"""Rows that many tasks save, written a transaction per group (the sync's details and PDFs)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupWriter(Generic[T]):
    """Rows saved by many tasks, written one transaction per group: :meth:`save` returns
    once its row is committed, and rows that arrive while a transaction runs make the next
    one. So a fan-out slot is freed only after its result is safe."""

    def __init__(self, write: Callable[[list[T]], Awaitable[object]]) -> None:
        self._write = write
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def save(self, row: T) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                await self._write([row for row, _ in group])
            except Exception as exc:  # noqa: BLE001  # each saver raises it (StoreError: stop)
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in group:
                    if not done.done():
                        done.set_result(None)

    async def close(self) -> None:
        """Wait until every row handed over is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
