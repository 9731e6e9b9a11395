"""The client's ``trust_env`` and ``ssl``: through a forward proxy (plain and CONNECT), and to a
TLS fake server whose certificate a test CA (trustme) signed. Everything is on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import attrs
import pytest
import trustme

from invoice_async import InvoiceClient, errors
from invoice_async.testing import FakeI3DServer
from tests._proxies import forward_proxy
from tests._servers import serve

TOKEN = "proxy-token-7Hq2z"


@attrs.frozen
class Tls:
    """A TLS fake server and the CA that signed its certificate."""

    server: FakeI3DServer
    base_url: str
    ca: trustme.CA

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture
async def tls() -> AsyncIterator[Tls]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = FakeI3DServer(token=TOKEN, count=30)
    async with serve(server.app, ssl_context=context) as base_url:
        yield Tls(server, base_url, ca)


@pytest.fixture
async def fake() -> AsyncIterator[FakeI3DServer]:
    server = FakeI3DServer(token=TOKEN, count=30)
    async with server:
        yield server


async def ids(client: InvoiceClient) -> list[int]:
    return [invoice.id async for invoice in client.invoices()]


async def test_trust_env_sends_every_request_through_the_http_proxy(
    fake: FakeI3DServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with InvoiceClient(TOKEN, base_url=fake.base_url, trust_env=True) as client:
            listed = await ids(client)
    assert listed == [invoice.id for invoice in fake.invoices]
    assert proxy.targets  # aiohttp keeps its connection to the proxy alive
    assert all(t.startswith(f"GET {fake.base_url}/v3/account/invoice") for t in proxy.targets)
    assert fake.requests_per_route["list"] >= 1


async def test_without_trust_env_the_proxy_variables_are_ignored(
    fake: FakeI3DServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with InvoiceClient(TOKEN, base_url=fake.base_url) as client:
            assert len(await ids(client)) == 30
    assert proxy.targets == []


async def test_no_proxy_reaches_its_hosts_directly(
    fake: FakeI3DServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with InvoiceClient(TOKEN, base_url=fake.base_url, trust_env=True) as client:
            assert len(await ids(client)) == 30
    assert proxy.targets == []


async def test_an_ssl_context_trusts_a_private_ca_through_a_connect_proxy_that_never_sees_the_token(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with forward_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        client = InvoiceClient(
            TOKEN, base_url=tls.base_url, trust_env=True, ssl=tls.client_context()
        )
        async with client:
            listed = await ids(client)
            detail = await client.invoice(listed[0])
    assert len(listed) == 30
    assert detail.id == listed[0]
    assert set(proxy.tunnels) == {tls.base_url.removeprefix("https://")}  # one per connection
    assert TOKEN.encode() not in proxy.received
    assert b"/v3/account" not in proxy.received  # the proxy saw the tunnel, not the requests


async def test_the_systems_cas_refuse_a_certificate_of_an_unknown_ca(tls: Tls) -> None:
    async with InvoiceClient(TOKEN, base_url=tls.base_url, max_retries=0) as client:
        with pytest.raises(errors.TransportError, match=r"(?i)certificate") as info:
            await client.invoice(1)
    assert TOKEN not in str(info.value)
    assert tls.server.requests_per_route["detail"] == 0


def test_ssl_false_needs_allow_insecure_http() -> None:
    with pytest.raises(errors.ConfigurationError, match="allow_insecure_http"):
        InvoiceClient(TOKEN, ssl=False)
    client = InvoiceClient(TOKEN, ssl=False, allow_insecure_http=True)
    assert client.max_connections == 100


@pytest.mark.parametrize("bad", [True, "/etc/ssl/ca.pem", 0])
def test_ssl_takes_none_a_context_or_false_only(bad: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="ssl must be"):
        InvoiceClient(TOKEN, ssl=bad)  # type: ignore[arg-type]  # the wrong types on purpose


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_trust_env_is_a_bool(bad: object) -> None:
    with pytest.raises(errors.ConfigurationError, match="trust_env"):
        InvoiceClient(TOKEN, trust_env=bad)  # type: ignore[arg-type]  # the wrong type on purpose


@pytest.mark.parametrize("settings", [{"trust_env": True}, {"ssl": ssl.create_default_context()}])
async def test_trust_env_or_ssl_with_a_borrowed_session_is_a_configuration_error(
    settings: dict[str, object],
) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(errors.ConfigurationError, match="settings of the client's own"):
            InvoiceClient(TOKEN, session=session, **settings)  # type: ignore[arg-type]
