"""What each contender does, for each kind of work: list, fetch details, download PDFs.

Every contender gets the same :class:`Job` and counts what it receives into a
:class:`~benchmarks._common.Tally`, which the orchestrator checks. The hand-written loops are
what a user would write in ten lines: ``RANGED-DATA`` windows where the next start is the start
plus the items received and an empty window ends the list; an ``asyncio.Semaphore`` and
``gather`` for details and PDFs; PDFs streamed in 64 KiB chunks to files (no fsync; the
``aiohttp-fdatasync`` loop syncs each file).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import aiohttp
import attrs
import httpx

from invoice_async import InvoiceClient

from . import _generate, _sync_choices
from ._common import PAGE_SIZE, Tally, client_options

Kind = Literal["listing", "details", "pdfs"]
Workload = Callable[["Job", Tally], Awaitable[None]]

_LIST_PATH = "/v3/account/invoice"
_CHUNK = 65_536
_TIMEOUT = 30.0


@attrs.frozen
class Job:
    """One contender's task: which work, against which server, with which bounds.

    ``count`` is the number of invoices to list, or the ids ``1..count`` whose details or PDFs
    to fetch; ``read_ahead`` is passed to ``InvoiceClient`` only when above 0; ``directory``
    receives the PDFs.
    """

    kind: Kind
    base_url: str
    token: str
    count: int
    concurrency: int
    read_ahead: int = 0
    directory: str = ""

    def ranged_data(self, start: int) -> str:
        """The RANGED-DATA header value for the window at ``start``."""
        return f"start={start},results={PAGE_SIZE}"

    def pdf_file(self, invoice_id: int) -> str:
        """Where a hand-written contender writes this invoice's PDF."""
        return f"{self.directory}/invoice_{invoice_id}.pdf"


# --- 1. this client ---------------------------------------------------------------------------


def _client(job: Job) -> InvoiceClient:
    options = client_options(concurrency=job.concurrency, read_ahead=job.read_ahead)
    return InvoiceClient(job.token, base_url=job.base_url, **options)


async def client_listing(job: Job, tally: Tally) -> None:
    """Iterate ``client.invoices()``, counting each typed Invoice."""
    async with _client(job) as client:
        async for invoice in client.invoices():
            tally.add(invoice.id)


async def client_details(job: Job, tally: Tally) -> None:
    """``client.invoice_details(ids, concurrency=...)``, counting each InvoiceDetail."""
    async with _client(job) as client:
        ids = range(1, job.count + 1)
        async for detail in client.invoice_details(ids, concurrency=job.concurrency):
            tally.add(detail.id)


async def client_pdfs(job: Job, tally: Tally) -> None:
    """``client.download_pdfs(ids, directory, concurrency=...)`` into the job's folder."""
    async with _client(job) as client:
        ids = range(1, job.count + 1)
        downloads = client.download_pdfs(ids, job.directory, concurrency=job.concurrency)
        async for download in downloads:
            tally.add_file(download.invoice_id, str(download.path), download.size)


def _client_pdfs_syncing_with(sync: Callable[[int], Awaitable[None]]) -> Workload:
    """``client_pdfs`` with another way of syncing each file before its rename (P4's choices)."""

    async def work(job: Job, tally: Tally) -> None:
        with _sync_choices.syncing_with(sync):
            await client_pdfs(job, tally)

    return work


# --- 2. hand-written aiohttp ------------------------------------------------------------------


def _aiohttp_session(job: Job) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers={"PRIVATE-TOKEN": job.token}, timeout=aiohttp.ClientTimeout(total=_TIMEOUT)
    )


async def _aiohttp_invoices(
    session: aiohttp.ClientSession, job: Job
) -> AsyncIterator[dict[str, Any]]:
    start = 0
    while True:
        headers = {"RANGED-DATA": job.ranged_data(start)}
        async with session.get(job.base_url + _LIST_PATH, headers=headers) as response:
            response.raise_for_status()
            items: list[dict[str, Any]] = await response.json()
        if not items:
            return
        for item in items:
            yield item
        start += len(items)


async def aiohttp_listing(job: Job, tally: Tally) -> None:
    """The raw-dict aiohttp paging loop."""
    async with _aiohttp_session(job) as session:
        async for item in _aiohttp_invoices(session, job):
            tally.add(int(item["id"]))


async def aiohttp_details(job: Job, tally: Tally) -> None:
    """aiohttp, a Semaphore(concurrency) and gather over every id; raw dicts."""
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> dict[str, Any]:
        url = f"{job.base_url}{_LIST_PATH}/{invoice_id}"
        async with limit, session.get(url) as response:
            response.raise_for_status()
            body = await response.json()
        return body[0] if isinstance(body, list) else body  # type: ignore[no-any-return]

    async with _aiohttp_session(job) as session:
        details = await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))
    for detail in details:
        tally.add(detail["id"])


async def aiohttp_pdfs(job: Job, tally: Tally) -> None:
    """aiohttp, a Semaphore(concurrency) and gather; each PDF streamed in chunks to a file."""
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> None:
        url = f"{job.base_url}{_LIST_PATH}/{invoice_id}/pdf"
        path, size = job.pdf_file(invoice_id), 0
        async with limit, session.get(url) as response:
            response.raise_for_status()
            # The floor a user writes: plain blocking writes to the page cache, no fsync.
            with open(path, "wb") as file:  # noqa: ASYNC230
                async for chunk in response.content.iter_chunked(_CHUNK):
                    file.write(chunk)
                    size += len(chunk)
        tally.add_file(invoice_id, path, size)

    async with _aiohttp_session(job) as session:
        await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))


async def aiohttp_pdfs_fdatasync(job: Job, tally: Tally) -> None:
    """As ``aiohttp_pdfs``, and each file's data synced to disk (fdatasync) before it is
    closed: what the same ten lines do to make each file durable."""
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> None:
        url = f"{job.base_url}{_LIST_PATH}/{invoice_id}/pdf"
        path, size = job.pdf_file(invoice_id), 0
        async with limit, session.get(url) as response:
            response.raise_for_status()
            with open(path, "wb") as file:  # noqa: ASYNC230  # as aiohttp_pdfs
                async for chunk in response.content.iter_chunked(_CHUNK):
                    file.write(chunk)
                    size += len(chunk)
                file.flush()
                os.fdatasync(file.fileno())
        tally.add_file(invoice_id, path, size)

    async with _aiohttp_session(job) as session:
        await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))


# --- 3. hand-written httpx --------------------------------------------------------------------


def _httpx_limits(job: Job) -> httpx.Limits:
    # httpx keeps 20 idle connections by default; at concurrency 32 that would reconnect.
    pool = max(job.concurrency, 1)
    return httpx.Limits(max_connections=pool, max_keepalive_connections=pool)


def _httpx_client(job: Job) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=job.base_url,
        headers={"PRIVATE-TOKEN": job.token},
        limits=_httpx_limits(job),
        timeout=_TIMEOUT,
    )


async def httpx_listing(job: Job, tally: Tally) -> None:
    """The raw-dict paging loop on httpx.AsyncClient."""
    async with _httpx_client(job) as client:
        start = 0
        while True:
            response = await client.get(_LIST_PATH, headers={"RANGED-DATA": job.ranged_data(start)})
            response.raise_for_status()
            items: list[dict[str, Any]] = response.json()
            if not items:
                break
            for item in items:
                tally.add(int(item["id"]))
            start += len(items)


async def httpx_details(job: Job, tally: Tally) -> None:
    """httpx, a Semaphore(concurrency) and gather over every id; raw dicts."""
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> dict[str, Any]:
        async with limit:
            response = await client.get(f"{_LIST_PATH}/{invoice_id}")
        response.raise_for_status()
        body = response.json()
        return body[0] if isinstance(body, list) else body  # type: ignore[no-any-return]

    async with _httpx_client(job) as client:
        details = await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))
    for detail in details:
        tally.add(detail["id"])


async def httpx_pdfs(job: Job, tally: Tally) -> None:
    """httpx, a Semaphore(concurrency) and gather; each PDF streamed in chunks to a file."""
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> None:
        path, size = job.pdf_file(invoice_id), 0
        async with limit, client.stream("GET", f"{_LIST_PATH}/{invoice_id}/pdf") as response:
            response.raise_for_status()
            with open(path, "wb") as file:  # noqa: ASYNC230  # as aiohttp_pdfs
                async for chunk in response.aiter_bytes(_CHUNK):
                    file.write(chunk)
                    size += len(chunk)
        tally.add_file(invoice_id, path, size)

    async with _httpx_client(job) as client:
        await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))


# --- 4. the generated client ------------------------------------------------------------------


def _generated_client(job: Job, generated: _generate.Generated) -> Any:
    # As the generated README shows: AuthenticatedClient, with the API's header and no prefix.
    return generated.authenticated_client(
        base_url=job.base_url,
        token=job.token,
        prefix="",
        auth_header_name="PRIVATE-TOKEN",
        timeout=httpx.Timeout(_TIMEOUT),
        raise_on_unexpected_status=True,
        httpx_args={"limits": _httpx_limits(job)},
    )


def _expect(answer: Any, what: str) -> Any:
    if not isinstance(answer, list):  # an Error model or None
        raise RuntimeError(f"{what}: unexpected answer {answer!r}")
    return answer


async def generated_listing(job: Job, tally: Tally) -> None:
    """``list_invoices.asyncio(client=..., ranged_data=...)`` in a manual paging loop."""
    generated = _generate.load()
    async with _generated_client(job, generated) as client:
        start = 0
        while True:
            page = await generated.list_invoices.asyncio(
                client=client, ranged_data=job.ranged_data(start)
            )
            page = _expect(page, "list_invoices")
            if not page:
                break
            for invoice in page:
                tally.add(int(invoice.id))
            start += len(page)


async def generated_details(job: Job, tally: Tally) -> None:
    """``get_invoice.asyncio(...)`` with a Semaphore(concurrency) and gather."""
    generated = _generate.load()
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> Any:
        async with limit:
            answer = await generated.get_invoice.asyncio(client=client, invoice_id=invoice_id)
        return _expect(answer, "get_invoice")[0]

    async with _generated_client(job, generated) as client:
        details = await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))
    for detail in details:
        tally.add(detail.id)


async def generated_pdfs(job: Job, tally: Tally) -> None:
    """``get_invoice_pdf.asyncio(...)`` (a File holding the whole body), written to a file."""
    generated = _generate.load()
    limit = asyncio.Semaphore(job.concurrency)

    async def fetch(invoice_id: int) -> None:
        async with limit:
            answer = await generated.get_invoice_pdf.asyncio(client=client, invoice_id=invoice_id)
            if not hasattr(answer, "payload"):
                raise RuntimeError(f"get_invoice_pdf: unexpected answer {answer!r}")
            body: bytes = answer.payload.getvalue()
            path = job.pdf_file(invoice_id)
            with open(path, "wb") as file:  # noqa: ASYNC230  # as aiohttp_pdfs
                file.write(body)
        tally.add_file(invoice_id, path, len(body))

    async with _generated_client(job, generated) as client:
        await asyncio.gather(*(fetch(i) for i in range(1, job.count + 1)))


WORKLOADS: dict[tuple[str, Kind], Workload] = {
    ("client", "listing"): client_listing,
    ("client", "details"): client_details,
    ("client", "pdfs"): client_pdfs,
    ("client-sync-loop", "pdfs"): _client_pdfs_syncing_with(_sync_choices.sync_in_the_loop),
    ("client-sync-batch", "pdfs"): _client_pdfs_syncing_with(_sync_choices.FolderBatch().sync),
    ("aiohttp", "listing"): aiohttp_listing,
    ("aiohttp", "details"): aiohttp_details,
    ("aiohttp", "pdfs"): aiohttp_pdfs,
    ("aiohttp-fdatasync", "pdfs"): aiohttp_pdfs_fdatasync,
    ("httpx", "listing"): httpx_listing,
    ("httpx", "details"): httpx_details,
    ("httpx", "pdfs"): httpx_pdfs,
    ("generated", "listing"): generated_listing,
    ("generated", "details"): generated_details,
    ("generated", "pdfs"): generated_pdfs,
}
"""The coroutine of each (contender, kind)."""
