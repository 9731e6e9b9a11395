"""The fake server itself: what it counts and logs, its lifecycle, its pytest fixtures."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from invoice_async.testing import (
    FakeI3DServer,
    FakeInvoice,
    make_invoices,
)

if TYPE_CHECKING:
    from invoice_async.testing.pytest_plugin import FakeI3DServerFactory

from tests.testing._http import (
    AUTH,
    LIST,
    TOKEN,
    fetch,
    ids,
)


# ------------------------------------------------------------------------ observation
async def test_max_in_flight_counts_concurrent_requests(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(latency=0.3)
    async with server as url:
        results = await asyncio.gather(*(fetch(session, f"{url}{LIST}/{i}") for i in range(1, 9)))
    assert [status for status, _, _ in results] == [200] * 8
    assert server.max_in_flight == 8
    assert server.in_flight == 0


async def test_requests_are_counted_per_route_and_raw_path_and_reset(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    async with server as url:
        for path in ("", "", "/unpaid", "/1", "/1/pdf", "/number/2024%2F000001"):
            async with session.get(url + LIST + path, headers=AUTH) as resp:
                assert resp.status == 200
    assert server.requests_per_path == {
        "list": 2,
        "unpaid": 1,
        "detail": 1,
        "pdf": 1,
        "detail_by_number": 1,
    }
    assert server.requests_per_raw_path[LIST] == 2
    assert server.requests_per_raw_path[LIST + "/number/2024%2F000001"] == 1
    assert server.max_in_flight == 1
    server.reset_stats()
    assert not server.log
    assert not server.requests_per_path
    assert server.max_in_flight == server.early_requests == server.list_requests == 0


async def test_log_records_requests_but_never_the_token_value(
    session: aiohttp.ClientSession,
) -> None:
    secret = "s3cr3t-Token-value"
    server = FakeI3DServer(token=secret)
    async with server as url:
        await fetch(session, url + LIST, headers={"PRIVATE-TOKEN": secret})
        await fetch(session, url + LIST, headers={"PRIVATE-TOKEN": secret + "x"})
        await fetch(session, f"{url}{LIST}?filter=a%26b", ranged="start=0,results=2")
    assert [r.token_ok for r in server.log] == [True, False, False]
    assert [r.status for r in server.log] == [200, 401, 401]
    assert server.log[2].query == "filter=a%26b"
    assert server.log[2].ranged_data == "start=0,results=2"
    assert secret not in repr(server.log)
    assert secret not in repr(server)


# -------------------------------------------------------------------------- lifecycle
async def test_context_manager_binds_a_free_local_port_and_stops(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    async with server as url:
        assert url == server.base_url
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(session, url + LIST)


async def test_start_and_stop_can_be_called_directly(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer()
    url = await server.start()
    try:
        with pytest.raises(RuntimeError):
            await server.start()
        assert (await fetch(session, url + LIST))[0] == 200
    finally:
        await server.stop()
    await server.stop()


async def test_app_can_be_served_by_the_caller(session: aiohttp.ClientSession) -> None:
    server = FakeI3DServer(invoices=make_invoices(3, seed=5))
    async with TestServer(server.app) as test_server:
        status, body, _ = await fetch(session, str(test_server.make_url(LIST)))
    assert status == 200
    assert len(body) == 3


@pytest.mark.parametrize(
    "kwargs",
    [{"fault_rate": 1.5}, {"fault_kinds": ["404"]}, {"fault_kinds": []}, {"page_cap": 0}],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"fault|page_cap"):
        FakeI3DServer(**kwargs)


def test_duplicate_invoice_ids_raise_value_error() -> None:
    invoices: list[FakeInvoice] = make_invoices(2) * 2
    with pytest.raises(ValueError, match="duplicate"):
        FakeI3DServer(invoices=invoices)


# --------------------------------------------------------------------------- fixtures
async def test_fake_i3d_server_fixture_is_a_started_default_server(
    fake_i3d_server: FakeI3DServer, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await fetch(session, fake_i3d_server.base_url + LIST)
    assert status == 200
    assert len(body) == 25
    assert fake_i3d_server.token == TOKEN


async def test_fake_i3d_server_factory_starts_servers_with_keywords(
    fake_i3d_server_factory: FakeI3DServerFactory, session: aiohttp.ClientSession
) -> None:
    capped = await fake_i3d_server_factory(page_cap=3)
    open_server = await fake_i3d_server_factory(token=None, count=2)
    assert capped.base_url != open_server.base_url
    assert len(await ids(session, capped.base_url + LIST, "start=0,results=10")) == 3
    assert (await fetch(session, open_server.base_url + LIST, headers={}))[1][0]["id"] == "2"
