"""The fake i3D server of a benchmark, in a process of its own.

``python -m benchmarks._server --count N --latency S --page-cap 100 --pdf-size BYTES`` builds
the invoices (with ``--changed C --new M --mutation-seed S``, C of them, picked by the seed, get
a new hash and amounts and M new ones go at the head: the same list a night later; ``--rate``,
``--burst``, ``--window``, ``--retry-after`` and ``--rate-headers`` add a rate limit), starts
:class:`invoice_async.testing.FakeI3DServer` on 127.0.0.1 (a free port) with a random token,
and prints one JSON line ``{"base_url": ..., "token": ...}``. It then answers commands read
from stdin, one per line, each with one JSON line on stdout:

- ``stats``: ``{"requests_per_path": {...}, "max_in_flight": n, "list_requests": n,
  "cpu_s": s}`` (``cpu_s``: the server process's CPU seconds since the last reset);
- ``log``: ``{"log": [[seconds since the first arrival, route, RANGED-DATA, status], ...]}``,
  every request since the last reset in arrival order (to see the shape of a pipeline);
- ``reset``: clears those counters and the log (``FakeI3DServer.reset_stats``).

It stops when stdin closes (the orchestrator exits or closes the pipe) or on SIGTERM/SIGINT.
Running it in its own process keeps the server's CPU off the contender's core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import signal
import sys
import time
from typing import Any

from invoice_async.testing import FakeI3DServer, RateLimit


def _stats(server: FakeI3DServer, cpu_since: float) -> dict[str, Any]:
    return {
        "rate_limited": server.rate_limited,
        "ignored_retry_after": server.ignored_retry_after,
        "requests_per_path": dict(server.requests_per_path),
        "max_in_flight": server.max_in_flight,
        "list_requests": server.list_requests,
        "cpu_s": time.process_time() - cpu_since,
    }


def _log(server: FakeI3DServer) -> list[list[Any]]:
    first = min((record.arrived_at for record in server.log), default=0.0)
    return [
        [record.arrived_at - first, record.route, record.ranged_data, record.status]
        for record in sorted(server.log, key=lambda record: record.arrived_at)
    ]


def _rate_limit(args: argparse.Namespace) -> RateLimit | None:
    if args.rate is None:
        return None
    return RateLimit(
        args.rate,
        burst=args.burst,
        retry_after=args.retry_after,
        headers=args.rate_headers,
        window=args.window,
    )


def _say(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    token = secrets.token_urlsafe(24)
    server = FakeI3DServer(
        token=token,
        count=args.count,
        page_cap=args.page_cap,
        latency=args.latency,
        pdf_size=args.pdf_size,
        rate_limit=_rate_limit(args),
    )
    if args.changed:  # a deterministic variant of the same data: a night later
        server.change(
            random.Random(args.mutation_seed).sample(range(1, args.count + 1), args.changed)
        )
    if args.new:
        server.insert_at_head(args.new)
    async with server as base_url:
        _say({"base_url": base_url, "token": token})
        stopping = asyncio.ensure_future(stop.wait())
        cpu_since = time.process_time()
        while True:
            reading = asyncio.ensure_future(reader.readline())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                break
            line = reading.result()
            if not line:  # EOF: the orchestrator is gone
                break
            command = line.decode().strip()
            if command == "stats":
                _say(_stats(server, cpu_since))
            elif command == "log":
                _say({"log": _log(server)})
            elif command == "reset":
                server.reset_stats()
                cpu_since = time.process_time()
                _say({"ok": True})
            else:
                _say({"error": f"unknown command {command!r}"})
        stopping.cancel()


def main() -> None:
    """Parse the arguments and serve until stdin closes or a signal arrives."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="invoices to serve")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--page-cap", type=int, default=100, help="most items per window")
    parser.add_argument("--pdf-size", type=int, default=4096, help="bytes per PDF")
    parser.add_argument("--rate", type=float, help="a rate limit: requests per second")
    parser.add_argument("--burst", type=int, help="the token bucket's depth (default: rate)")
    parser.add_argument("--window", type=float, help="a fixed window of --rate per WINDOW s")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds, on a 429")
    parser.add_argument("--rate-headers", action="store_true", help="send RateLimit-* headers")
    parser.add_argument("--changed", type=int, default=0, help="invoices given a new hash")
    parser.add_argument("--new", type=int, default=0, help="invoices added at the head")
    parser.add_argument("--mutation-seed", type=int, default=1, help="picks the changed ones")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
