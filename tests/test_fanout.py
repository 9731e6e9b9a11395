"""The bounded-concurrency loop, through the public ``InvoiceClient.map``: no HTTP needed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Container, Iterator
from pathlib import Path

import pytest

from invoice_async import InvoiceClient, Outcome, errors


class Probe:
    """A coroutine function that counts calls in flight.

    Calls for items in ``blocked`` wait on ``gate`` (until cancelled, if it is never set);
    ``release_at=n`` sets the gate once n calls are in flight at once.
    """

    def __init__(
        self,
        *,
        fail_on: Container[int] = (),
        blocked: Container[int] = (),
        release_at: int | None = None,
    ) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.fail_on = fail_on
        self.blocked = blocked
        self.release_at = release_at
        self.gate = asyncio.Event()

    async def __call__(self, item: int) -> int:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started.append(item)
        if self.in_flight == self.release_at:
            self.gate.set()
        try:
            if item in self.blocked or self.release_at is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if item in self.fail_on:
                raise errors.NotFoundError(404, error_message=f"no invoice {item}")
            return item * 10
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.in_flight -= 1


@pytest.fixture
async def client() -> AsyncIterator[InvoiceClient]:
    async with InvoiceClient("tok", max_concurrency=16) as client:
        yield client


def other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_never_more_than_concurrency_in_flight_and_reaches_it(client: InvoiceClient) -> None:
    probe = Probe(release_at=5)
    results = [r async for r in client.map(probe, range(300), concurrency=5)]
    assert sorted(results) == [i * 10 for i in range(300)]
    assert probe.max_in_flight == 5


async def test_default_concurrency_is_the_clients_max_concurrency(client: InvoiceClient) -> None:
    probe = Probe(release_at=16)
    assert len([r async for r in client.map(probe, range(100))]) == 100
    assert probe.max_in_flight == client.max_concurrency == 16


async def test_a_concurrency_above_the_clients_max_concurrency_runs_that_many_at_once(
    client: InvoiceClient,
) -> None:
    probe = Probe(release_at=40)
    results = [r async for r in client.map(probe, range(100), concurrency=40)]
    assert len(results) == 100
    assert probe.max_in_flight == 40 > client.max_concurrency


async def test_100000_ids_from_a_generator_never_create_more_tasks_than_the_bound(
    client: InvoiceClient,
) -> None:
    pulled = 0
    max_tasks = 0

    def ids() -> Iterator[int]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield i

    async def fn(item: int) -> int:
        nonlocal max_tasks
        max_tasks = max(max_tasks, len(other_tasks()))
        # Ids are pulled only as slots free up: never more than the bound ahead of completions.
        assert pulled <= done + 8
        await asyncio.sleep(0)
        return item

    done = 0
    async for _ in client.map(fn, ids(), concurrency=8):
        done += 1
    assert done == pulled == 100_000
    assert max_tasks <= 8


async def test_async_generator_input_is_pulled_lazily_and_bounded(client: InvoiceClient) -> None:
    probe = Probe(release_at=4)

    async def ids() -> AsyncIterator[int]:
        for i in range(50):
            await asyncio.sleep(0)
            yield i

    results = [r async for r in client.map(probe, ids(), concurrency=4)]
    assert sorted(results) == [i * 10 for i in range(50)]
    assert probe.max_in_flight == 4


async def test_ordered_yields_in_input_order_with_a_bounded_window(client: InvoiceClient) -> None:
    started_ahead = 0
    yielded = 0

    async def fn(item: int) -> int:
        nonlocal started_ahead
        started_ahead = max(started_ahead, item - yielded)
        for _ in range(item % 7):  # later items often finish first
            await asyncio.sleep(0)
        return item

    results = []
    async for r in client.map(fn, range(200), concurrency=6, ordered=True):
        results.append(r)
        yielded += 1
    assert results == list(range(200))
    assert started_ahead < 6  # never more than the window past the oldest not yet yielded


async def test_unordered_yields_as_completed(client: InvoiceClient) -> None:
    async def fn(item: int) -> int:
        for _ in range(10 - item):
            await asyncio.sleep(0)
        return item

    results = [r async for r in client.map(fn, range(10), concurrency=10)]
    assert results == list(reversed(range(10)))


async def test_fail_fast_raises_the_error_itself_and_cancels_the_rest(
    client: InvoiceClient,
) -> None:
    probe = Probe(fail_on={3}, blocked=range(4, 1000))
    seen: list[int] = []

    async def consume() -> None:
        async for r in client.map(probe, range(1000), concurrency=5):
            seen.append(r)

    with pytest.raises(errors.NotFoundError, match="no invoice 3"):
        await consume()
    assert probe.in_flight == 0  # every call cancelled was awaited
    assert probe.cancelled  # calls in flight were cancelled, not left running
    assert len(probe.started) < 1000  # it stopped pulling
    assert sorted(seen) == [0, 10, 20]  # completed before the failure: yielded
    assert not other_tasks()


async def test_fail_fast_in_order_yields_everything_before_the_failed_item(
    client: InvoiceClient,
) -> None:
    probe = Probe(fail_on={20})
    seen: list[int] = []

    async def consume() -> None:
        async for r in client.map(probe, range(100), concurrency=4, ordered=True):
            seen.append(r)

    with pytest.raises(errors.NotFoundError):
        await consume()
    assert seen == [i * 10 for i in range(20)]


async def test_yield_mode_gives_an_outcome_per_item_and_goes_on(client: InvoiceClient) -> None:
    probe = Probe(fail_on={3, 7})
    outcomes = [o async for o in client.map(probe, range(10), concurrency=3, on_error="yield")]
    assert len(outcomes) == 10
    failed = {o.item: o.error for o in outcomes if not o.ok}
    assert set(failed) == {3, 7}
    assert all(isinstance(e, errors.NotFoundError) for e in failed.values())
    assert {o.item: o.result for o in outcomes if o.ok} == {
        i: i * 10 for i in range(10) if i not in (3, 7)
    }
    assert all(isinstance(o, Outcome) for o in outcomes)


async def test_an_input_that_fails_raises_after_the_results_before_it(
    client: InvoiceClient,
) -> None:
    async def ids() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise errors.ServerError(500, error_message="listing broke")

    seen: list[int] = []

    async def consume() -> None:
        async for r in client.map(Probe(), ids(), concurrency=2, on_error="yield"):
            seen.append(r.item)

    with pytest.raises(errors.ServerError, match="listing broke"):
        await consume()
    assert sorted(seen) == [1, 2]


async def test_closing_early_leaves_no_running_tasks(client: InvoiceClient) -> None:
    probe = Probe(blocked=range(1, 1000))  # only item 0 finishes by itself
    async with contextlib.aclosing(client.map(probe, range(1000), concurrency=5)) as results:
        async for _ in results:
            break
    assert probe.in_flight == 0
    assert sorted(probe.cancelled) == [1, 2, 3, 4]
    assert not other_tasks()


async def test_cancelling_the_consumer_leaves_no_running_tasks(client: InvoiceClient) -> None:
    probe = Probe(blocked=range(1000))
    reached = asyncio.Event()

    async def consume() -> None:
        async for _ in client.map(probe, range(1000), concurrency=5):
            pass

    async def watch() -> None:
        for _ in range(1000):  # bounded: a few loop turns are enough
            if probe.in_flight == 5:
                reached.set()
                return
            await asyncio.sleep(0)

    consumer = asyncio.create_task(consume())
    await watch()
    await reached.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert probe.in_flight == 0
    assert sorted(probe.cancelled) == [0, 1, 2, 3, 4]
    assert not other_tasks()


async def test_a_timeout_around_the_loop_leaves_no_running_tasks(client: InvoiceClient) -> None:
    probe = Probe(blocked=range(100))

    async def consume() -> None:
        async for _ in client.map(probe, range(100), concurrency=3):
            pass

    async def consume_with_deadline() -> None:
        async with asyncio.timeout(0):
            await consume()

    with pytest.raises(TimeoutError):
        await consume_with_deadline()
    assert probe.started  # it was running when the deadline fired
    assert probe.in_flight == 0
    assert not other_tasks()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 101}, "max_connections=100"),
        ({"concurrency": "4"}, "concurrency"),
        ({"on_error": "ignore"}, "on_error"),
    ],
)
async def test_bad_fanout_arguments_raise_at_once(
    client: InvoiceClient, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(errors.ConfigurationError, match=match):
        client.map(Probe(), range(3), **kwargs)  # type: ignore[call-overload]  # the point


@pytest.mark.parametrize("ids", [5, None, "123"])
async def test_ids_that_are_not_an_iterable_raise_at_once(
    client: InvoiceClient, ids: object
) -> None:
    with pytest.raises(errors.ConfigurationError, match="iterable"):
        client.invoice_details(ids)  # type: ignore[call-overload]  # the point of the test


@pytest.mark.parametrize("max_retries", [-1, "3", True])
async def test_a_bad_max_retries_raises_at_once_for_details_and_pdfs(
    client: InvoiceClient, tmp_path: Path, max_retries: object
) -> None:
    with pytest.raises(errors.ConfigurationError, match="max_retries"):
        client.invoice_details(range(1, 4), max_retries=max_retries)  # type: ignore[call-overload]
    with pytest.raises(errors.ConfigurationError, match="max_retries"):
        client.download_pdfs(range(1, 4), tmp_path, max_retries=max_retries)  # type: ignore[call-overload]
