"""The command line behind a proxy and with a corporate CA, through the real entry point: it
honours HTTP(S)_PROXY and NO_PROXY as curl and pip do, trusts ``--ca-bundle``, and reaches the
embedded server of ``--demo`` directly. Every server and proxy is on 127.0.0.1."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import trustme

from invoice_async.testing import FakeI3DServer
from tests._cli import TOKEN, invoke
from tests._proxies import forward_proxy
from tests._servers import serve


@attrs.frozen
class Tls:
    """A TLS fake server, and the PEM file of the CA that signed its certificate."""

    server: FakeI3DServer
    base_url: str
    ca_file: Path


@pytest.fixture
async def tls(tmp_path: Path) -> AsyncIterator[Tls]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = FakeI3DServer(token=TOKEN, count=40, page_cap=25)
    async with serve(server.app, ssl_context=context) as base_url:
        yield Tls(server, base_url, ca_file)


@pytest.fixture
async def fake() -> AsyncIterator[FakeI3DServer]:
    server = FakeI3DServer(token=TOKEN, count=40, page_cap=25)
    async with server:
        yield server


async def test_the_cli_goes_through_the_http_proxy_the_environment_names(
    fake: FakeI3DServer,
) -> None:
    async with forward_proxy() as proxy:
        run = await invoke("list", "--base-url", fake.base_url, env={"HTTP_PROXY": proxy.url})
    assert run.code == 0, run.stderr
    assert len(run.stdout.splitlines()) == 40
    assert proxy.targets
    assert all(t.startswith(f"GET {fake.base_url}/v3/account/invoice") for t in proxy.targets)


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_sends_the_cli_straight_to_the_api(
    fake: FakeI3DServer, no_proxy: str
) -> None:
    async with forward_proxy() as proxy:
        env = {"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy}
        run = await invoke("list", "--base-url", fake.base_url, env=env)
    assert run.code == 0, run.stderr
    assert len(run.stdout.splitlines()) == 40
    assert proxy.targets == []


async def test_the_demo_server_is_reached_directly_whatever_the_environment() -> None:
    async with forward_proxy() as proxy:
        env = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "ALL_PROXY": proxy.url}
        run = await invoke("list", "--demo", "--limit", "3", token=None, env=env)
    assert run.code == 0, run.stderr
    assert len(run.stdout.splitlines()) == 3
    assert proxy.targets == []


async def test_ca_bundle_through_an_https_proxy_that_never_sees_the_token(tls: Tls) -> None:
    async with forward_proxy() as proxy:
        run = await invoke(
            "show", "7", "--base-url", tls.base_url, "--ca-bundle", str(tls.ca_file),
            env={"HTTPS_PROXY": proxy.url},
        )  # fmt: skip
        listed = await invoke(
            "list", "--base-url", tls.base_url, "--ca-bundle", str(tls.ca_file),
            env={"HTTPS_PROXY": proxy.url},
        )  # fmt: skip
    assert run.code == listed.code == 0, run.stderr + listed.stderr
    assert json.loads(run.stdout)["id"] == 7
    assert len(listed.stdout.splitlines()) == 40
    assert set(proxy.tunnels) == {tls.base_url.removeprefix("https://")}
    assert all(target.startswith("CONNECT ") for target in proxy.targets)
    assert TOKEN.encode() not in proxy.received
    assert b"PRIVATE-TOKEN" not in proxy.received
    assert tls.server.requests_per_route["detail"] == 1


async def test_without_the_ca_bundle_the_certificate_is_refused_in_one_line(tls: Tls) -> None:
    run = await invoke("show", "7", "--base-url", tls.base_url, "--max-retries", "0")
    assert run.code == 1
    assert len(run.stderr.strip().splitlines()) == 1
    assert "certificate" in run.stderr.lower()
    assert TOKEN not in run.stderr
    assert tls.server.requests_per_route["detail"] == 0
