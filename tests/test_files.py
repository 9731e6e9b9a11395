"""Atomic PDF files: synced whole before the rename, nothing left behind when a step fails."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from invoice_async import _files
from invoice_async._files import TEMP_SUFFIX, write_atomically

BODY = [b"%PDF-1.7\n", b"x" * 300_000, b"%%EOF\n"]


async def chunks() -> AsyncIterator[bytes]:
    for chunk in BODY:
        yield chunk


async def test_each_file_is_synced_whole_before_its_rename(tmp_path: Path) -> None:
    target = tmp_path / "a.pdf"
    seen: list[tuple[bool, int]] = []

    async def sync(fd: int) -> None:
        seen.append((target.exists(), os.fstat(fd).st_size))

    size = await write_atomically(target, chunks(), sync=sync)
    assert seen == [(False, sum(map(len, BODY)))]  # synced complete, not yet visible
    assert size == sum(map(len, BODY))
    assert target.read_bytes() == b"".join(BODY)
    assert [p.name for p in tmp_path.iterdir()] == ["a.pdf"]


async def test_a_failed_sync_leaves_neither_the_file_nor_its_temp_file(tmp_path: Path) -> None:
    async def sync(fd: int) -> None:
        raise OSError(5, "I/O error")

    with pytest.raises(OSError, match="I/O error"):
        await write_atomically(tmp_path / "a.pdf", chunks(), sync=sync)
    assert list(tmp_path.iterdir()) == []


async def test_the_default_sync_runs_fdatasync_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    monkeypatch.setattr(_files, "_sync_data", lambda fd: threads.append(threading.get_ident()))
    await write_atomically(tmp_path / "a.pdf", chunks())
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_a_body_that_fails_midway_leaves_no_temp_file(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"%PDF-"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await write_atomically(tmp_path / "a.pdf", broken())
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
    assert not (tmp_path / "a.pdf").exists()
