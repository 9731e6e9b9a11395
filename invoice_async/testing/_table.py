"""The fake server's invoices: list orders, windows of pre-encoded items, and mutations."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import attrs

from ._invoices import _DAY, FakeInvoice, encode_json, make_invoices, to_list_item


class InvoiceTable:
    """The fake server's invoices (its own data, not to be confused with the client's
    ``InvoiceStore``), with cached list orders and pre-encoded list items.

    Orders and filtered lists are computed once and dropped on mutation; each list item is
    JSON-encoded once (dropped when that invoice changes), so a window costs only a join.
    """

    def __init__(self, invoices: Iterable[FakeInvoice], *, seed: int = 0) -> None:
        """Hold ``invoices``; ``seed`` makes the invoices :meth:`insert_at_head` adds."""
        self.seed = seed
        self.by_id: dict[int, FakeInvoice] = {}
        self.by_number: dict[str, FakeInvoice] = {}
        self._ordered: dict[tuple[str, str], list[FakeInvoice]] = {}
        self._encoded: dict[int, bytes] = {}
        self._add(invoices)

    def _add(self, invoices: Iterable[FakeInvoice]) -> None:
        for inv in invoices:
            if inv.id in self.by_id or inv.invoice_number in self.by_number:
                raise ValueError(f"duplicate invoice id or number: {inv.id}")
            self.by_id[inv.id] = self.by_number[inv.invoice_number] = inv
        self._ordered = {}

    def ordered(self, route: str, text: str = "") -> list[FakeInvoice]:
        """The ``"list"`` or ``"unpaid"`` list, newest first, of descriptions with ``text``."""
        found = self._ordered.get((route, text))
        if found is None:
            if text:
                found = [inv for inv in self.ordered(route) if text in inv.description]
            elif route == "unpaid":
                found = [inv for inv in self.ordered("list") if inv.is_unpaid]
            else:
                found = sorted(
                    self.by_id.values(), key=lambda i: (i.creation_date, i.id), reverse=True
                )
            self._ordered[route, text] = found
        return found

    def window(
        self, route: str, text: str, start: int, count: int, *, repeat: int | None = None
    ) -> tuple[bytes, tuple[int, ...]]:
        """The JSON array of list items at positions ``start`` to ``start + count``, and their
        ids; with ``repeat``, the item at that index of the window is there twice (the window
        keeps ``count`` items)."""
        invoices = self.ordered(route, text)[start : start + count]
        if repeat is not None and repeat < len(invoices):
            invoices = [*invoices[: repeat + 1], *invoices[repeat:]][:count]
        encoded, parts = self._encoded, []
        for inv in invoices:
            item = encoded.get(inv.id)
            if item is None:
                item = encoded[inv.id] = encode_json(to_list_item(inv))
            parts.append(item)
        return b"[" + b",".join(parts) + b"]", tuple(inv.id for inv in invoices)

    def insert_at_head(self, n: int) -> list[FakeInvoice]:
        """Add ``n`` unpaid invoices with the highest ids and the newest dates; return them."""
        top = max(self.by_id, default=0)
        newest = max((inv.creation_date for inv in self.by_id.values()), default=0)
        new = make_invoices(n, seed=self.seed, start_id=top + 1, all_unpaid=True)
        shift = max(0, newest + 60 - min((inv.creation_date for inv in new), default=0))
        if shift:
            new = [
                attrs.evolve(i, creation_date=i.creation_date + shift, due_date=i.due_date + shift)
                for i in new
            ]
        self._add(new)
        return new

    def pay(self, n: int) -> list[FakeInvoice]:
        """Mark the first ``n`` invoices of the unpaid list paid; return their new versions."""
        paid = [
            attrs.evolve(
                inv,
                payment_status=1,
                payment_date=inv.creation_date + _DAY,
                remaining_amount=0,
                total_paid_amount=inv.amount_inc_vat,
            )
            for inv in self.ordered("unpaid")[:n]
        ]
        self._replace(paid)
        return paid

    def change(self, ids: Iterable[int]) -> list[FakeInvoice]:
        """Give these invoices a new hash and 1.00 more before VAT; return the new versions."""
        changed = []
        for inv in self._pick(ids):
            excl = inv.amount_excl_vat + 100
            inc = excl + (excl * inv.vat_percentage + 50) // 100
            paid = inc if inv.payment_status == 1 else inv.total_paid_amount
            changed.append(
                attrs.evolve(
                    inv,
                    invoice_hash=hashlib.sha256(inv.invoice_hash.encode()).hexdigest()[:32],
                    amount_excl_vat=excl,
                    vat_amount=inc - excl,
                    amount_inc_vat=inc,
                    total_paid_amount=paid,
                    remaining_amount=inc - paid,
                )
            )
        self._replace(changed)
        return changed

    def remove(self, ids: Iterable[int]) -> list[FakeInvoice]:
        """Delete these invoices (they leave both lists; by id or number: 404); return them."""
        removed = self._pick(ids)
        for inv in removed:
            del self.by_id[inv.id], self.by_number[inv.invoice_number]
            self._encoded.pop(inv.id, None)
        self._ordered = {}
        return removed

    def _pick(self, ids: Iterable[int]) -> list[FakeInvoice]:
        wanted = list(dict.fromkeys(ids))
        unknown = [i for i in wanted if i not in self.by_id]
        if unknown:
            raise ValueError(f"no such invoices: {unknown}")
        return [self.by_id[i] for i in wanted]

    def _replace(self, invoices: Iterable[FakeInvoice]) -> None:
        for inv in invoices:
            self.by_id[inv.id] = self.by_number[inv.invoice_number] = inv
            self._encoded.pop(inv.id, None)
        self._ordered = {}
