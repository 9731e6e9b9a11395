"""JSON amplification: an answer of ``[{},{},...]`` decodes to 25 times its size, so each kind
of answer is bounded by what it can hold. Against a server that answers every request with
the largest body the client reads, the client's peak RSS stays low (measured in a process of
its own, with a cap on its address space so that a failure cannot take the machine down)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from invoice_async import InvoiceClient, errors
from invoice_async._args import DEFAULT_MAX_DETAIL_BYTES, DEFAULT_MAX_RESPONSE_BYTES
from invoice_async._protocol import list_answer_bytes
from tests._servers import serve

PAGE_SIZE = 100
PEAK_RSS_MB = 300  # the target, a generous bound (a run measures far less)
ADDRESS_SPACE = 3 * 1024**3  # an unbounded client dies here instead of swapping

CLIENT = textwrap.dedent(
    """
    import asyncio, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from invoice_async import InvoiceClient, errors

    async def main(kind, base_url):
        async with InvoiceClient("t0ken", base_url=base_url, page_size={page_size}) as client:
            if kind == "details":
                outcomes = [
                    outcome
                    async for outcome in client.invoice_details(
                        range(1, 33), concurrency=8, on_error="yield"
                    )
                ]  # every error kept, as a caller collecting failures would
                assert all(isinstance(o.error, errors.InvalidResponseError) for o in outcomes)
            else:
                try:
                    [invoice async for invoice in client.invoices()]
                except errors.InvalidResponseError:
                    pass
                else:
                    raise AssertionError("the listing of a bomb ended normally")
        # The peak RSS of this process since it started (ru_maxrss would also count the
        # parent's RSS at the fork, which Linux carries across exec).
        with open("/proc/self/status") as status:
            peak = next(line for line in status if line.startswith("VmHWM:"))
        print(int(peak.split()[1]) // 1024)  # MiB

    asyncio.run(main(*sys.argv[1:]))
    """
).format(limit=ADDRESS_SPACE, page_size=PAGE_SIZE)


def bomb(size: int) -> bytes:
    """``[{},{},...]`` of exactly ``size`` bytes."""
    count = (size - 2) // 3
    body = b"[" + b",".join([b"{}"] * count) + b"]"
    return body[:-1] + b" " * (size - len(body)) + b"]"


@contextlib.asynccontextmanager
async def bomb_server(size: int) -> AsyncIterator[str]:
    """Answers every GET with a bomb of ``size`` bytes, chunked (no length announced)."""
    body = bomb(size)

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(body), 1024 * 1024):
                await response.write(body[start : start + 1024 * 1024])
            await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    async with serve(app) as base_url:
        yield base_url


def test_a_bomb_is_exactly_its_size_and_valid_json() -> None:
    for size in (10, 11, 12, 1000):
        assert len(bomb(size)) == size
        assert orjson.loads(bomb(size)) == [{}] * ((size - 2) // 3)


async def test_a_detail_answer_over_max_detail_bytes_is_refused_as_it_streams() -> None:
    async with (
        bomb_server(20_000) as base_url,
        InvoiceClient("t0ken", base_url=base_url, max_detail_bytes=10_000) as client,
    ):
        with pytest.raises(errors.InvalidResponseError, match=r"10000 bytes \(max_detail_bytes"):
            await client.invoice(1, max_retries=0)


async def test_a_list_answer_over_page_size_times_16_kib_is_refused_as_it_streams() -> None:
    async with (
        bomb_server(40_000) as base_url,
        InvoiceClient("t0ken", base_url=base_url, page_size=2) as client,
    ):
        with pytest.raises(errors.InvalidResponseError, match=r"32768 bytes \(page_size x 16 KiB"):
            await anext(client.invoices(max_retries=0))
        detail = client.invoice(1, max_retries=0)  # 40 KB is a valid size for a detail
        with pytest.raises(errors.InvalidResponseError, match="one JSON object"):
            await detail


@pytest.mark.parametrize(
    ("kind", "size"),
    [
        ("details", DEFAULT_MAX_DETAIL_BYTES),  # the largest detail answer read whole
        ("details", DEFAULT_MAX_RESPONSE_BYTES),  # the largest any answer used to be
        ("listing", list_answer_bytes(PAGE_SIZE)),  # the largest list answer read whole
        ("listing", DEFAULT_MAX_RESPONSE_BYTES),
    ],
    ids=["details-at-their-cap", "details-32MiB", "listing-at-its-cap", "listing-32MiB"],
)
async def test_the_largest_answers_a_client_reads_keep_its_peak_rss_low(
    kind: str, size: int
) -> None:
    async with bomb_server(size) as base_url:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT,
            kind,
            base_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]
    peak = int(out.decode().split()[-1])
    print(f"{kind} against {size:,}-byte answers: peak RSS {peak} MiB")  # shown with -s
    assert peak < PEAK_RSS_MB
