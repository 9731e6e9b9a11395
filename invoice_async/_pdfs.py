"""The PDF path: stream an invoice's PDF, checked as it comes, into memory or an atomic file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from . import _protocol
from ._files import complete_pdf_size, pdf_file_name, write_atomically
from ._models import PdfDownload
from ._retry import Retrier
from ._session import HttpSession


class PdfFetcher:
    """Fetches PDFs through the client's session and retrier, at most ``max_bytes`` each.

    Every body is checked as it streams (``_protocol.PdfCheck``: type, ``%PDF-`` magic, size
    limit, announced length), and a download goes to a temp file that is synced and renamed
    only once the body is whole and valid (``_files.write_atomically``).
    """

    def __init__(self, http: HttpSession, retrier: Retrier, *, max_bytes: int) -> None:
        self._http = http
        self._retrier = retrier
        self._max_bytes = max_bytes

    @contextlib.asynccontextmanager
    async def _chunks(self, invoice_id: int) -> AsyncIterator[AsyncIterator[bytes]]:
        """The PDF's body in chunks, each checked as it comes."""
        async with self._http.stream(_protocol.pdf_path(invoice_id)) as body:
            check = _protocol.PdfCheck(
                url=body.url,
                content_type=body.content_type,
                content_length=body.content_length,
                max_bytes=self._max_bytes,
            )

            async def checked() -> AsyncIterator[bytes]:
                async for chunk in body.chunks():
                    check.feed(chunk)
                    yield chunk
                check.finish()

            yield checked()

    async def read(self, invoice_id: int, *, retries: int | None) -> bytes:
        """The whole PDF in memory."""

        async def once() -> bytes:
            async with self._chunks(invoice_id) as chunks:
                return b"".join([chunk async for chunk in chunks])

        return await self._retrier.call(once, retries=retries)

    async def download(
        self,
        ref: tuple[int, str | None],
        directory: Path,
        *,
        skip_existing: bool,
        retries: int | None,
    ) -> PdfDownload:
        """The PDF of ``ref`` (id, number) written to its file in ``directory``; with
        ``skip_existing``, a whole PDF already there is kept and not fetched."""
        invoice_id, number = ref
        target = directory / pdf_file_name(invoice_id, number)
        if skip_existing and (size := complete_pdf_size(target)) is not None:
            return PdfDownload(invoice_id=invoice_id, path=target, size=size, skipped=True)

        async def once() -> int:
            async with self._chunks(invoice_id) as chunks:
                return await write_atomically(target, chunks)

        size = await self._retrier.call(once, retries=retries)
        return PdfDownload(invoice_id=invoice_id, path=target, size=size)
