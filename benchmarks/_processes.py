"""The processes of a scenario: the fake server's, and one per contender run.

:class:`ServerProcess` runs ``benchmarks._server`` and talks to it over its stdin/stdout;
:func:`run_contender` runs ``benchmarks._contender`` once, bounded by a timeout, and returns
its JSON line. Every process binds or talks to 127.0.0.1 only, and every wait has a timeout.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any, Self

from ._common import PROJECT_DIR

_START_TIMEOUT = 180.0  # building 200,000 fake invoices takes the server ~1.5 s
_COMMAND_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0


class ServerProcess:
    """``with ServerProcess(count=..., latency=...) as server:`` a fake server in a subprocess.

    ``server.base_url`` and ``server.token`` are what it printed; ``server.command("stats")``
    and ``server.command("reset")`` query and clear its counters. Leaving the block closes its
    stdin (it then stops by itself), and kills it if it has not stopped within 15 s.
    """

    def __init__(
        self,
        *,
        count: int,
        latency: float,
        page_cap: int,
        pdf_size: int,
        extra: Sequence[str] = (),
    ) -> None:
        """Remember the server's options (``extra``: more ``benchmarks._server`` arguments);
        the process starts on ``__enter__``."""
        self._argv = [
            sys.executable,
            "-m",
            "benchmarks._server",
            f"--count={count}",
            f"--latency={latency}",
            f"--page-cap={page_cap}",
            f"--pdf-size={pdf_size}",
            *extra,
        ]
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.base_url = ""
        self.token = ""

    def __enter__(self) -> Self:
        """Start the server and wait (bounded) for its address."""
        process = subprocess.Popen(
            self._argv,
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._process = process
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()
        try:
            hello = self._read(_START_TIMEOUT)
        except BaseException:
            self._stop()
            raise
        self.base_url, self.token = hello["base_url"], hello["token"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self._stop()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"the fake server said nothing within {timeout} s") from None
        if line is None:
            raise RuntimeError("the fake server exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def command(self, name: str) -> dict[str, Any]:
        """Send ``stats`` or ``reset`` and return the server's JSON answer."""
        process = self._process
        if process is None or process.stdin is None:
            raise RuntimeError("the fake server is not running")
        process.stdin.write(name + "\n")
        process.stdin.flush()
        return self._read(_COMMAND_TIMEOUT)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)


def run_contender(
    argv: list[str], *, token: str, timeout: float, prefix: list[str] | None = None
) -> dict[str, Any]:
    """Run ``python -m benchmarks._contender *argv`` once; return its JSON line.

    The token goes in ``I3D_API_TOKEN``. ``prefix`` replaces ``[python, -m]`` (e.g. to run
    it under pyinstrument). Raises RuntimeError with the end of stderr when the run fails or
    outlives ``timeout`` seconds (it is killed then).
    """
    command = [*(prefix or [sys.executable, "-m"]), "benchmarks._contender", *argv]
    env = {**os.environ, "I3D_API_TOKEN": token}
    try:
        done = subprocess.run(
            command,
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout:.0f} s and was killed") from None
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"exit status {done.returncode}: {tail}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError("printed no result")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def run_cli_measured(argv: list[str], *, token: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks._cli_run *argv`` once; its JSON line, plus ``process_s``
    (the process's wall time, start-up included) and ``stdout`` (what the command printed).

    Raises RuntimeError with the end of stderr when it fails or outlives ``timeout``.
    """
    command = [sys.executable, "-m", "benchmarks._cli_run", *argv]
    env = {**os.environ, "I3D_API_TOKEN": token}
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout:.0f} s and was killed") from None
    wall = time.perf_counter() - began
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"exit status {done.returncode}: {tail}")
    answer: dict[str, Any] = json.loads(lines[-1])
    if answer.get("exit", 0) != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"the command exited {answer['exit']}: {tail}")
    return {**answer, "process_s": wall, "stdout": "\n".join(lines[:-1])}
