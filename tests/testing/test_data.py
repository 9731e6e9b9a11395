"""The fake server's data: invoices and PDFs, deterministic per seed and id."""

from __future__ import annotations

import itertools
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from invoice_async.testing import (
    iter_pdf_chunks,
    make_invoices,
    make_pdf,
)

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would block rewriting
    pass


# ------------------------------------------------------------------------------- data
def test_make_invoices_is_deterministic_per_seed_and_mixed() -> None:
    first, again, other = make_invoices(300), make_invoices(300), make_invoices(300, seed=1)
    assert first == again
    assert first != other
    assert [inv.id for inv in first] == list(range(1, 301))
    assert any(inv.payment_status == 1 for inv in first)
    assert any(inv.is_unpaid for inv in first)
    credits = [inv for inv in first if inv.is_credit]
    assert credits
    assert all(inv.amount_inc_vat < 0 for inv in credits)
    assert all(inv.amount_inc_vat == inv.amount_excl_vat + inv.vat_amount for inv in first)
    assert all("/" in inv.invoice_number for inv in first)
    text = "".join(inv.description for inv in first)
    assert all(ch in text for ch in " &%+/é")
    assert all(a.creation_date < b.creation_date for a, b in itertools.pairwise(first))


def test_make_invoices_start_id_continues_ids() -> None:
    assert [inv.id for inv in make_invoices(3, start_id=50)] == [50, 51, 52]


@pytest.mark.parametrize("size", [0, 1, 5, 9, 14, 15, 16, 40, 4096, 200_001])
def test_make_pdf_has_exact_size_magic_and_eof(size: int) -> None:
    pdf = make_pdf(3, size)
    assert len(pdf) == size
    assert pdf == b"%PDF-1.4\n"[:size] + pdf[9:]
    if size >= 64:
        assert pdf.endswith(b"%%EOF\n")
    assert pdf == b"".join(iter_pdf_chunks(3, size, chunk_size=1000))
    assert all(len(chunk) <= 1000 for chunk in iter_pdf_chunks(3, size, chunk_size=1000))


def test_make_pdf_is_deterministic_and_differs_by_invoice_id() -> None:
    assert make_pdf(1, 5000) == make_pdf(1, 5000)
    assert make_pdf(1, 5000) != make_pdf(2, 5000)


def test_streaming_300_pdfs_of_2mb_does_not_hold_them_in_memory() -> None:
    tracemalloc.start()
    try:
        total = sum(len(c) for i in range(300) for c in iter_pdf_chunks(i, 2_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 300 * 2_000_000
    assert peak < 2_000_000
