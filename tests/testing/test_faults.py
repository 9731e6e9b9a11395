"""The fake server's faults over real HTTP: random, queued, Retry-After, early requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from invoice_async.testing import (
    FAULT_KINDS,
    FakeClock,
    FakeI3DServer,
    FaultKind,
    Faults,
    ListQuirks,
)

if TYPE_CHECKING:  # imported by pytest_plugins below; importing it first would block rewriting
    pass

from tests.testing._http import (
    AUTH,
    LIST,
    assert_error_object,
    fetch,
)


# ----------------------------------------------------------------------------- faults
async def run_requests(
    session: aiohttp.ClientSession, url: str, n: int
) -> list[int | type[Exception]]:
    """``n`` sequential detail requests; each outcome is a status or the exception type."""
    outcomes: list[int | type[Exception]] = []
    for i in range(n):
        try:
            async with session.get(f"{url}{LIST}/{i % 50 + 1}", headers=AUTH) as resp:
                await resp.read()
                outcomes.append(resp.status)
        except aiohttp.ClientError as exc:
            outcomes.append(type(exc))
    return outcomes


async def test_fault_rate_injects_every_kind_at_about_the_rate_deterministically(
    session: aiohttp.ClientSession,
) -> None:
    servers = [FakeI3DServer(fault_rate=0.3, fault_seed=seed) for seed in (7, 7, 8)]
    outcomes = []
    for server in servers:
        async with server as url:
            outcomes.append(await run_requests(session, url, 200))
    faults = [[r.fault for r in server.log] for server in servers]
    count = sum(kind is not None for kind in faults[0])
    assert 35 <= count <= 85
    assert set(faults[0]) == {*FAULT_KINDS, None}
    assert faults[0] == faults[1]
    assert faults[0] != faults[2]
    assert outcomes[0] == outcomes[1]
    by_kind = dict(zip(faults[0], outcomes[0], strict=True))
    assert by_kind["500"] == 500
    assert by_kind["503"] == 503
    assert by_kind["429"] == 429
    assert by_kind["truncated"] is aiohttp.ClientPayloadError
    assert by_kind["reset"] in (aiohttp.ClientPayloadError, aiohttp.ClientOSError)


async def test_fault_paths_restricts_faults_to_one_endpoint_kind(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeI3DServer(fault_rate=1.0, fault_kinds={"500"}, fault_paths="pdf") as url:
        assert (await fetch(session, url + LIST))[0] == 200
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 200
        assert (await fetch(session, f"{url}{LIST}/1/pdf"))[0] == 500


async def test_fault_paths_predicate_picks_the_faulty_requests(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(
        fault_rate=1.0, fault_kinds=["503"], fault_paths=lambda route, path: path.endswith("/2")
    )
    async with server as url:
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 200
        assert (await fetch(session, f"{url}{LIST}/2"))[0] == 503


async def test_fail_next_answers_the_next_requests_of_an_endpoint_with_the_fault(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer()
    server.fail_next("503", endpoint="detail", count=2)
    async with server as url:
        assert (await fetch(session, url + LIST))[0] == 200
        first = await fetch(session, f"{url}{LIST}/1")
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 503
        assert (await fetch(session, f"{url}{LIST}/1"))[0] == 200
        server.fail_next("truncated")
        with pytest.raises(aiohttp.ClientPayloadError):
            await fetch(session, url + LIST)
    assert first[0] == 503
    assert_error_object(first[1], 503)
    assert first[2]["Retry-After"] == "1"
    assert [r.fault for r in server.log] == [None, "503", "503", None, "truncated"]


@pytest.mark.parametrize(("seconds", "header"), [(0.05, "0.05"), (2.0, "2"), (2.5, "2.5")])
async def test_retry_after_header_is_sent_with_integral_or_fractional_seconds(
    session: aiohttp.ClientSession, seconds: float, header: str
) -> None:
    server = FakeI3DServer(retry_after=seconds)
    server.fail_next("429")
    async with server as url:
        status, _, headers = await fetch(session, url + LIST)
    assert status == 429
    assert headers["Retry-After"] == header


async def test_requests_before_retry_after_elapsed_are_counted_early(
    session: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()  # starts at t = 1000 s
    server = FakeI3DServer(clock=clock, retry_after=5)
    async with server as url:
        await fetch(session, url + LIST)
        server.fail_next("429")
        assert (await fetch(session, url + LIST))[0] == 429
        clock.advance(4.9)
        await fetch(session, url + LIST)
        assert server.early_requests == 1
        clock.advance(0.1)
        await fetch(session, url + LIST)
    assert server.early_requests == 1
    assert [r.early for r in server.log] == [False, False, True, False]
    assert server.not_before == 1005.0


ONLY_500: tuple[FaultKind, ...] = ("500",)


def test_faults_and_list_quirks_are_settings_objects_with_flat_shortcuts() -> None:
    grouped = FakeI3DServer(
        faults=Faults(rate=0.5, seed=3, kinds=ONLY_500, routes="detail", retry_after=0.25),
        lists=ListQuirks(page_cap=7, stuck_at_offset=30),
    )
    flat = FakeI3DServer(
        fault_rate=0.5,
        fault_seed=3,
        fault_kinds=ONLY_500,
        fault_routes="detail",
        retry_after=0.25,
        page_cap=7,
        stuck_at_offset=30,
    )
    for server in (grouped, flat):
        assert (server.fault_rate, server.fault_kinds, server.retry_after) == (0.5, ("500",), 0.25)
        assert (server.page_cap, server.stuck_at_offset) == (7, 30)
        assert not server.duplicate_ids
        assert not server.ignore_ranged_data


@pytest.mark.parametrize(
    "kwargs",
    [
        {"faults": Faults(rate=0.1), "fault_rate": 0.2},
        {"lists": ListQuirks(page_cap=5), "page_cap": 6},
    ],
)
def test_a_settings_object_and_its_shortcut_together_raise_value_error(
    kwargs: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="not both"):
        FakeI3DServer(**kwargs)  # type: ignore[arg-type]  # the point of the test


async def test_old_names_fault_paths_and_requests_per_path_still_work(
    session: aiohttp.ClientSession,
) -> None:
    server = FakeI3DServer(fault_rate=1.0, fault_kinds=ONLY_500, fault_paths="pdf")
    async with server as url:
        status, _, _ = await fetch(session, url + LIST)
    assert status == 200  # faults only on PDFs, as fault_routes="pdf" would say
    assert server.requests_per_path is server.requests_per_route
    assert server.requests_per_route["list"] == 1
