"""P3's per-request path, piece by piece: what each layer of the client costs per request.

``python -m benchmarks.p3_request_path [--requests N]``: times, in this process and with no
network, each piece a detail request passes through besides aiohttp itself: the fan-out loop,
the retry wrapper, the client-wide slot, the pacer (``Timekeeper.wait`` and ``answered``), the
URL, the token middleware's check, and the decode (orjson + ``expect_single`` + cattrs). Then
it runs the client and the raw aiohttp loop once each against a fake server (20 ms, 32 at
once, 2,000 details, in its own process) and prints the CPU per request of both, so each
piece shows as a share of what a request costs. The medians of 5 rounds of each timing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from invoice_async import _protocol
from invoice_async._converter import structure_detail
from invoice_async._fanout import bounded_map
from invoice_async._retry import Retrier
from invoice_async._timekeeper import Timekeeper
from invoice_async.testing import make_invoices, to_detail_item

from ._processes import ServerProcess, run_contender

ROUNDS = 5
_HEADERS = CIMultiDictProxy(
    CIMultiDict(
        {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": "520",
            "Date": "Tue, 01 Dec 2026 10:00:00 GMT",
            "Server": "Python/3.11 aiohttp/3.14.5",
        }
    )
)


async def _timed(n: int, body: Callable[[], Awaitable[None]]) -> float:
    """Median µs per call of ``body`` over ROUNDS rounds of ``n`` calls."""
    rounds = []
    for _ in range(ROUNDS):
        began = time.process_time()
        for _ in range(n):
            await body()
        rounds.append((time.process_time() - began) / n * 1e6)
    return statistics.median(rounds)


async def _pieces(n: int) -> dict[str, float]:
    throttle = Timekeeper()
    retrier = Retrier(throttle, max_retries=3)
    slots = asyncio.Semaphore(100)
    detail = orjson.dumps([to_detail_item(make_invoices(1, seed=1)[0])])
    url = "http://127.0.0.1:8080/v3/account/invoice/1234"
    origin = URL(url).origin()

    async def nothing() -> None:
        return None

    async def pacer() -> None:
        await throttle.wait()
        throttle.answered(200, _HEADERS)

    async def slot() -> None:
        await slots.acquire()
        slots.release()

    async def retry_wrapper() -> None:
        await retrier.call(nothing, retries=None)

    async def url_and_middleware_check() -> None:
        assert URL(url, encoded=True).origin() == origin

    async def decode() -> None:
        raw = _protocol.expect_single(_protocol.decode_json(detail, url=url), url=url)
        structure_detail(raw, url=url)

    async def one(item: int) -> int:
        return item

    async def fan_out() -> None:
        async for _ in bounded_map(one, range(n), limit=32):
            pass

    pieces = {
        "fan-out loop (bounded_map, a task per item)": await _timed(1, fan_out) / n,
        "retry wrapper (Retrier.call)": await _timed(n, retry_wrapper),
        "client-wide slot (Semaphore)": await _timed(n, slot),
        "pacer (Timekeeper.wait + answered, rate-limit headers read)": await _timed(n, pacer),
        "URL and the token middleware's origin check": await _timed(n, url_and_middleware_check),
        "decode (orjson + expect_single + cattrs)": await _timed(n, decode),
    }
    empty = await _timed(n, nothing)
    return {name: value - empty for name, value in pieces.items()}


def _cpu_per_request() -> dict[str, float]:
    """CPU µs per request of the client and the raw loop, in P3's setting."""
    found: dict[str, float] = {}
    with ServerProcess(count=2000, latency=0.02, page_cap=100, pdf_size=4096) as server:
        for name in ("client", "aiohttp"):
            argv = [
                "details",
                name,
                f"--base-url={server.base_url}",
                "--count=2000",
                "--concurrency=32",
                "--read-ahead=0",
                "--directory=",
            ]
            runs = [
                run_contender(argv, token=server.token, timeout=120)["cpu_s"] / 2000 * 1e6
                for _ in range(3)
            ]
            found[name] = statistics.median(runs)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--requests", type=int, default=20_000, help="calls per timing round")
    args = parser.parse_args(argv)
    pieces = asyncio.run(_pieces(args.requests))
    cpu = _cpu_per_request()
    print("== p3_request_path: the client's own pieces of a detail request, µs of CPU each")
    print(f"| piece | µs per request | share of the client's {cpu['client']:.0f} µs |")
    print("|---|---:|---:|")
    for name, value in pieces.items():
        print(f"| {name} | {value:.1f} | {value / cpu['client']:.1%} |")
    total = sum(pieces.values())
    print(f"| all of the above | {total:.1f} | {total / cpu['client']:.1%} |")
    print(
        f"| the raw aiohttp loop's whole request (json.loads included) | {cpu['aiohttp']:.0f} "
        f"| {cpu['aiohttp'] / cpu['client']:.1%} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
