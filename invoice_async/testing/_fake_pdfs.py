"""Deterministic fake PDF bytes: a function of the invoice id and the size, streamed in chunks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

_PDF_HEADER = b"%PDF-1.4\n"
_PDF_EOF = b"\n%%EOF\n"


def _pdf_parts(invoice_id: int) -> tuple[bytes, bytes]:
    prefix = _PDF_HEADER + b"%\xe2\xe3\xcf\xd3\n" + f"% fake i3D invoice {invoice_id}\n".encode()
    pattern = b"".join(
        b"% "
        + hashlib.sha256(f"invoice-pdf:{invoice_id}:{i}".encode()).hexdigest().encode()
        + b"\n"
        for i in range(32)
    )
    return prefix, pattern


def iter_pdf_chunks(invoice_id: int, size: int, *, chunk_size: int = 65_536) -> Iterator[bytes]:
    """Yield the bytes of :func:`make_pdf` in chunks of at most ``chunk_size`` bytes.

    Only one chunk is held at a time, so streaming many large PDFs stays cheap in memory.
    """
    if size < 0 or chunk_size <= 0:
        raise ValueError("size must be >= 0 and chunk_size > 0")
    prefix, pattern = _pdf_parts(invoice_id)
    tail = _PDF_EOF if size >= len(prefix) + len(_PDF_EOF) else b""
    body_len = size - len(tail)
    block = pattern * (chunk_size // len(pattern) + 2)
    pos = 0
    while pos < body_len:
        want = min(chunk_size, body_len - pos)
        head = prefix[pos : pos + want]
        rest = want - len(head)
        if rest:
            offset = (pos + len(head) - len(prefix)) % len(pattern)
            head += block[offset : offset + rest]
        yield head
        pos += want
    if tail:
        yield tail


def make_pdf(invoice_id: int, size: int) -> bytes:
    """Deterministic fake PDF of exactly ``size`` bytes for ``invoice_id``.

    It starts with ``%PDF-1.4\\n`` (cut short when ``size`` < 9), differs per invoice id, and
    ends with ``%%EOF\\n`` whenever ``size`` leaves room for it.
    """
    return b"".join(iter_pdf_chunks(invoice_id, size))
