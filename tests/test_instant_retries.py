"""invoice_async.testing.instant_retries(): zero backoff for users' tests, as a context manager
and as the pytest plugin's fixture; Retry-After pauses are left to the clock.

(tests/conftest.py turns it on for every test; these tests turn it off to see it work.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aioresponses import aioresponses

from invoice_async import InvoiceClient, testing
from invoice_async.testing import FakeClock, pytest_plugin, use_fake_clock
from tests._samples import DETAIL

URL = "https://api.i3d.net/v3/account/invoice/1"
ERROR = {"errorCode": 1, "errorMessage": "oops"}


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[InvoiceClient]:
    async with InvoiceClient("tok", max_retries=3) as client:
        use_fake_clock(client, clock)
        yield client


@pytest.fixture
def real_backoff() -> Iterator[None]:
    """Undo the conftest's switch for one test."""
    with testing.instant_retries(False):
        yield


async def two_failures_then_success(http: aioresponses, client: InvoiceClient) -> None:
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, status=500, payload=ERROR)
    http.get(URL, payload=[DETAIL])
    assert (await client.invoice(1)).id == 123


def test_instant_retries_is_exported_from_the_testing_package() -> None:
    assert "instant_retries" in testing.__all__
    assert "instant_retries" in pytest_plugin.__all__


async def test_the_context_manager_makes_backoff_zero_and_keeps_the_retries(
    real_backoff: None, http: aioresponses, client: InvoiceClient, clock: FakeClock
) -> None:
    with testing.instant_retries():
        await two_failures_then_success(http, client)
    assert clock.sleeps == []
    assert client.stats.retries == 2


async def test_without_it_the_backoff_is_real_on_the_clock(
    real_backoff: None, http: aioresponses, client: InvoiceClient, clock: FakeClock
) -> None:
    await two_failures_then_success(http, client)
    first, second = clock.sleeps
    assert 0.5 <= first <= 1.5
    assert 1.0 <= second <= 2.0


async def test_blocks_nest_and_each_restores_what_it_found(
    http: aioresponses, client: InvoiceClient, clock: FakeClock
) -> None:
    with testing.instant_retries(False):  # the conftest had it on
        with testing.instant_retries():
            pass
        await two_failures_then_success(http, client)  # off again after the inner block
        assert len(clock.sleeps) == 2
    clock.sleeps.clear()
    await two_failures_then_success(http, client)  # on again, as the conftest set it
    assert clock.sleeps == []


async def test_it_leaves_retry_after_pauses_to_the_clock(
    http: aioresponses, client: InvoiceClient, clock: FakeClock
) -> None:
    http.get(URL, status=429, payload=ERROR, headers={"Retry-After": "7"})
    http.get(URL, payload=[DETAIL])
    with testing.instant_retries():
        await client.invoice(1)
    assert clock.sleeps == [7.0]


async def test_the_plugin_fixture_makes_backoff_zero(
    real_backoff: None,
    instant_retries: None,  # the plugin's fixture, set up after real_backoff
    http: aioresponses,
    client: InvoiceClient,
    clock: FakeClock,
) -> None:
    await two_failures_then_success(http, client)
    assert clock.sleeps == []
