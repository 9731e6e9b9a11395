"""The fake server's data changing while a client reads it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import aiohttp
import pytest

from invoice_async.testing import (
    FakeI3DServer,
    make_invoices,
    make_pdf,
    to_list_item,
)

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would block rewriting
    pass

from tests.testing._http import (
    AUTH,
    LIST,
    UNPAID,
    fetch,
    ids,
)


# -------------------------------------------------------------------------- mutations
async def test_insert_at_head_shifts_offsets_of_both_lists(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=50)
    async with server as url:
        first = await ids(session, url + LIST, "start=0,results=10")
        unpaid_first = await ids(session, url + UNPAID, "start=0,results=5")
        new = server.insert_at_head(3)
        second = await ids(session, url + LIST, "start=10,results=10")
        unpaid_head = await ids(session, url + UNPAID, "start=0,results=3")
    assert [inv.id for inv in new] == [51, 52, 53]
    assert second[:3] == first[-3:]
    assert unpaid_head == ["53", "52", "51"]
    assert unpaid_first[0] not in unpaid_head
    assert new[0].creation_date > max(inv.creation_date for inv in make_invoices(50))


async def test_pay_removes_invoices_from_the_unpaid_list(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(count=50)
    async with server as url:
        before = await ids(session, url + UNPAID, "start=0,results=100")
        paid = server.pay(2)
        after = await ids(session, url + UNPAID, "start=0,results=100")
        _, detail, _ = await fetch(session, f"{url}{LIST}/{paid[0].id}")
        _, listed, _ = await fetch(session, url + LIST, ranged="start=0,results=100")
    assert [str(inv.id) for inv in paid] == before[:2]
    assert after == before[2:]
    assert detail[0]["paymentStatus"] == 1
    assert {item["id"]: item["paymentStatus"] for item in listed}[before[0]] == 1


async def test_change_gives_new_hash_and_amounts_in_list_and_detail(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=20)
    async with server as url:
        before = {inv.id: inv for inv in server.invoices}
        changed = server.change([3, 7])
        _, listed, _ = await fetch(session, url + LIST, ranged="start=0,results=100")
        _, detail, _ = await fetch(session, f"{url}{LIST}/3")
        async with session.get(f"{url}{LIST}/3/pdf", headers=AUTH) as resp:
            pdf = await resp.read()
    items = {int(item["id"]): item for item in listed}
    assert [inv.id for inv in changed] == [3, 7]
    for new in changed:
        old = before[new.id]
        assert new.invoice_hash != old.invoice_hash
        assert new.amount_excl_vat == old.amount_excl_vat + 100
        assert new.amount_inc_vat == new.amount_excl_vat + new.vat_amount
        assert new.remaining_amount == new.amount_inc_vat - new.total_paid_amount
        assert new.payment_status == old.payment_status
        assert items[new.id]["invoiceHash"] == new.invoice_hash
        assert items[new.id]["amountIncVAT"] == str(new.amount_inc_vat)
    assert detail[0]["invoiceHash"] == changed[0].invoice_hash
    assert pdf == make_pdf(3, 4096)  # the PDF does not change
    assert {i for i, item in items.items() if item == to_list_item(before[i])} == set(before) - {
        3,
        7,
    }


async def test_remove_deletes_invoices_from_both_lists_and_their_routes(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(count=20)
    async with server as url:
        number = server.invoices[-1].invoice_number  # id 1
        removed = server.remove([1, 2])
        listed = await ids(session, url + LIST, "start=0,results=100")
        unpaid = await ids(session, url + UNPAID, "start=0,results=100")
        detail_status, _, _ = await fetch(session, f"{url}{LIST}/1")
        pdf_status, _, _ = await fetch(session, f"{url}{LIST}/2/pdf")
        number_status, _, _ = await fetch(session, f"{url}{LIST}/number/{quote(number, '')}")
        with pytest.raises(ValueError, match=r"no such invoices: \[99\]"):
            server.remove([3, 99])
    assert [inv.id for inv in removed] == [1, 2]
    assert "1" not in listed
    assert "2" not in listed
    assert "3" in listed
    assert len(listed) == 18
    assert "1" not in unpaid
    assert "2" not in unpaid
    assert (detail_status, pdf_status, number_status) == (404, 404, 404)


async def test_on_list_request_hook_gets_1_based_count_and_can_mutate(
    session: aiohttp.ClientSession,
) -> None:
    calls: list[int] = []

    def hook(server: FakeI3DServer, k: int) -> None:
        """Record k; add an invoice at the head before the 2nd list request."""
        calls.append(k)
        if k == 2:
            server.insert_at_head(1)

    server = FakeI3DServer(count=20, on_list_request=hook)
    async with server as url:
        one = await ids(session, url + LIST, "start=0,results=5")
        await fetch(session, f"{url}{LIST}/1")
        two = await ids(session, url + UNPAID, "start=0,results=1")
        three = await ids(session, url + LIST, "start=5,results=5")
    assert calls == [1, 2, 3]
    assert one[0] == "20"
    assert two == ["21"]
    assert three[0] == one[-1]
