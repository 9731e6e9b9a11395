"""Running the real ``invoice-async`` entry point in a subprocess, piped or on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import sys
import termios
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import attrs

TOKEN = "cli-token-Qm3x9"
ENTRY_POINT = str(Path(sys.executable).parent / "invoice-async")
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@attrs.frozen
class Run:
    code: int
    stdout: str
    stderr: str


def environment(token: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (the tests' conftest has taken the proxy variables out),
    with ``I3D_API_TOKEN`` set to ``token`` (or unset) and ``env`` on top."""
    base = {k: v for k, v in os.environ.items() if k not in ("I3D_API_TOKEN", "I3D_BASE_URL")}
    if token is not None:
        base["I3D_API_TOKEN"] = token
    return {**base, **(env or {})}


def _sigint_as_usual() -> None:
    """In the child: Ctrl-C as a terminal gives it. A shell without job control starts its
    background jobs with SIGINT ignored, and Python keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def start(
    *args: str, token: str | None = TOKEN, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """The entry point with ``args``, its stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        ENTRY_POINT,
        *args,
        env=environment(token, env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_sigint_as_usual,
    )


async def finish(process: asyncio.subprocess.Process) -> Run:
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def invoke(
    *args: str, token: str | None = TOKEN, env: Mapping[str, str] | None = None
) -> Run:
    """Run the entry point to its end, piped."""
    return await finish(await start(*args, token=token, env=env))


def _read_all(master: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def invoke_on_terminal(*args: str, token: str | None = TOKEN, columns: int = 120) -> Run:
    """Run the entry point with stdout on a pseudo-terminal ``columns`` wide (stderr piped);
    its stdout comes back with the terminal's escape sequences and carriage returns taken
    out."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, master)
        try:
            process = await asyncio.create_subprocess_exec(
                ENTRY_POINT, *args, env=environment(token, {"TERM": "xterm-256color"}),
                stdin=asyncio.subprocess.DEVNULL, stdout=slave,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        finally:
            os.close(slave)  # the child has its own copy: EOF comes when it exits
        async with asyncio.timeout(120):
            out, (_, err) = await asyncio.gather(
                asyncio.to_thread(_read_all, master), process.communicate()
            )
    assert process.returncode is not None
    text = _ESCAPES.sub("", out.decode()).replace("\r\n", "\n")
    return Run(process.returncode, text, err.decode())


@contextlib.asynccontextmanager
async def running(
    *args: str, token: str | None = TOKEN
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The entry point running; killed on exit if it is still running."""
    process = await start(*args, token=token)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
