"""The pager alone, over a simulated list that changes while it is read: no HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoice_async import errors
from invoice_async._paging import paginate
from invoice_async._protocol import Page, Window

MAX_CALLS = 20_000  # a pager that loops forever fails instead of hanging


class FakeList:
    """A list endpoint over ``ids``, newest first, with an optional cap and mutations.

    ``mutate(fake, call_number)`` runs before each answer; ``starts`` records each window.
    """

    def __init__(
        self,
        ids: list[int],
        *,
        cap: int | None = None,
        mutate: Callable[[FakeList, int], None] | None = None,
    ) -> None:
        self.ids = ids
        self.cap = cap
        self.mutate = mutate
        self.starts: list[int] = []
        self.in_flight = self.max_in_flight = 0
        self.held: set[int] = set()
        self.productive = 0  # answers holding an id no earlier answer held, as they arrive
        self.next_new_id = max(ids, default=0) + 1

    async def fetch(self, window: Window, token: str | None, ahead: bool = False) -> Page:
        assert token is None
        assert len(self.starts) < MAX_CALLS, "the pager does not end"
        self.starts.append(window.start)
        call = len(self.starts)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let read-ahead requests overlap
            if self.mutate is not None:
                self.mutate(self, call)
            size = window.results if self.cap is None else min(window.results, self.cap)
            chunk = self.ids[window.start : window.start + size]
            self.productive += bool(set(chunk) - self.held)
            self.held |= set(chunk)
            return Page([{"id": str(i)} for i in chunk], "https://api/v3/account/invoice")
        finally:
            self.in_flight -= 1

    def insert_at_head(self, n: int) -> None:
        new = list(range(self.next_new_id, self.next_new_id + n))
        self.next_new_id += n
        self.ids[:0] = reversed(new)


async def read_all(fake: FakeList, page_size: int, depth: int = 1) -> list[int]:
    found: list[int] = []
    async for items, _ in paginate(fake.fetch, page_size=page_size, read_ahead=depth):
        found.extend(int(item["id"]) for item in items)
    return found


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize(("count", "page_size", "cap"), [(0, 10, None), (25, 10, None),
                         (30, 10, None), (95, 10, 4), (7, 100, None), (50, 1, None)])  # fmt: skip
async def test_a_stable_list_is_read_whole_and_in_order(
    count: int, page_size: int, cap: int | None, depth: int
) -> None:
    fake = FakeList(list(range(count, 0, -1)), cap=cap)
    assert await read_all(fake, page_size, depth) == list(range(count, 0, -1))


async def test_the_list_ends_at_the_last_item_and_an_empty_window_after_it() -> None:
    fake = FakeList(list(range(30, 0, -1)), cap=7)
    await read_all(fake, page_size=10)
    # Short windows (the cap) are not the end: the window at the last item (position 29)
    # holds nothing after it, and the empty one at 30 confirms.
    assert fake.starts == [0, 6, 12, 18, 24, 29, 30]


async def test_insertions_at_the_head_repeat_nothing() -> None:
    def mutate(fake: FakeList, call: int) -> None:
        if call in (2, 3, 5):
            fake.insert_at_head(10)

    fake = FakeList(list(range(100, 0, -1)), mutate=mutate)
    found = await read_all(fake, page_size=20)
    assert len(found) == len(set(found))
    assert [i for i in found if i <= 100] == list(range(100, 0, -1))


async def test_removals_during_the_read_skip_nothing() -> None:
    removed: set[int] = set()

    def mutate(fake: FakeList, call: int) -> None:
        if call in (2, 3, 4, 6):
            # an unpaid invoice gets paid: it leaves the list before the read position
            for victim in fake.ids[:25:5]:
                fake.ids.remove(victim)
                removed.add(victim)

    fake = FakeList(list(range(200, 0, -1)), mutate=mutate)
    found = await read_all(fake, page_size=20)
    stayed = [i for i in range(200, 0, -1) if i not in removed]
    assert [i for i in found if i not in removed] == stayed
    assert len(found) == len(set(found))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, int, int | None, int, int, dict[int, tuple[str, int]]]:
    count = draw(st.integers(0, 250))
    # The guard needs windows of two items or more to overlap (documented), and fewer than
    # page_size - 1 changes per window, so that the list never outruns the pager.
    page_size = draw(st.integers(2, 40))
    cap = draw(st.one_of(st.none(), st.integers(2, 45)))
    depth = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    most = min(page_size, cap or page_size) - 2
    plan = draw(
        st.dictionaries(
            st.integers(1, 40),
            st.tuples(st.sampled_from(["insert", "remove"]), st.integers(1, max(most, 1))),
            max_size=8 if most >= 1 else 0,
        )
    )
    return count, page_size, cap, depth, seed, plan


@settings(max_examples=int(os.environ.get("PAGER_EXAMPLES", 300)), deadline=None)
@given(scenarios())
def test_every_invoice_that_stayed_is_yielded_exactly_once(
    scenario: tuple[int, int, int | None, int, int, dict[int, tuple[str, int]]],
) -> None:
    count, page_size, cap, depth, seed, plan = scenario
    rng = random.Random(seed)
    removed: set[int] = set()

    def mutate(fake: FakeList, call: int) -> None:
        if call not in plan:
            return
        action, amount = plan[call]
        if action == "insert":
            fake.insert_at_head(amount)
        else:  # payments: invoices leave the list anywhere
            for _ in range(min(amount, len(fake.ids))):
                removed.add(fake.ids.pop(rng.randrange(len(fake.ids))))

    initial = list(range(count, 0, -1))
    fake = FakeList(list(initial), cap=cap, mutate=mutate)
    found = asyncio.run(read_all(fake, page_size, depth))
    assert len(found) == len(set(found)), "an invoice was yielded twice"
    stayed = [i for i in initial if i not in removed]
    assert [i for i in found if i in set(stayed)] == stayed, "missed or out of order"
    assert fake.max_in_flight <= depth
    assert len(fake.starts) <= 2 * fake.productive + 2 * depth + 10


class HostileList:
    """A list endpoint that answers each request with whatever hypothesis draws: random ids
    (from a finite set), repeats inside a window, the previous answer again or shuffled, more
    or fewer items than asked, empty windows, PAGE-TOKENs that come and go, and 410 for a
    token. It counts productive answers in the order they arrive, as the bound defines them."""

    def __init__(self, data: st.DataObject, page_size: int) -> None:
        self.data, self.page_size = data, page_size
        self.requests = self.productive = self.expired = 0
        self.held: set[int] = set()
        self.previous: list[int] = []
        self.in_flight = self.max_in_flight = 0

    def answer(self, window: Window, token: str | None) -> tuple[list[int], str | None]:
        draw = self.data.draw
        if token is not None and draw(st.integers(0, 9)) == 0:
            self.expired += 1
            raise errors.ApiError(410, error_message="expired")
        kind = draw(st.sampled_from(["random", "again", "shuffle", "window", "empty"]))
        ids: list[int] = []
        if kind == "random":
            ids = draw(st.lists(st.integers(0, 40), max_size=2 * self.page_size))
        elif kind == "again":
            ids = list(self.previous)
        elif kind == "shuffle":
            ids = draw(st.permutations(self.previous))
        elif kind == "window":
            ids = [i for i in range(window.start, window.start + self.page_size) if i <= 40]
        next_token = draw(st.one_of(st.none(), st.sampled_from(["t1", "t2", "\u00e9t"])))
        return ids, next_token

    async def fetch(self, window: Window, token: str | None, ahead: bool) -> Page:
        self.requests += 1
        assert self.requests < 5_000, "the pager does not end"
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            ids, next_token = self.answer(window, token)
        finally:
            self.in_flight -= 1
        if set(ids) - self.held:
            self.productive += 1
        self.held |= set(ids)
        self.previous = ids
        return Page([{"id": str(i)} for i in ids], "https://api/v3/account/invoice", next_token)


@settings(max_examples=int(os.environ.get("PAGER_EXAMPLES", 400)), deadline=None)
@given(st.data(), st.integers(1, 6), st.integers(1, 5))
def test_a_hostile_server_cannot_make_the_pager_loop_or_repeat_an_id(
    data: st.DataObject, page_size: int, read_ahead: int
) -> None:
    server = HostileList(data, page_size)
    found: list[int] = []

    async def consume() -> None:
        async for items, _ in paginate(server.fetch, page_size=page_size, read_ahead=read_ahead):
            found.extend(int(item["id"]) for item in items)

    failure: BaseException | None = None
    try:
        asyncio.run(consume())
    except (errors.PagingError, errors.ApiError) as error:
        failure = error  # no progress, or a token expired more often than restarts allow
    assert failure is None or isinstance(failure, errors.PagingError) or server.expired > 3
    assert len(found) == len(set(found)), "an id was yielded twice"
    restarts = server.expired
    bound = 2 * server.productive + (restarts + 1) * (2 * read_ahead + 10)
    assert server.requests <= bound
    assert server.max_in_flight <= read_ahead


async def test_read_ahead_keeps_depth_windows_in_flight_and_no_more() -> None:
    fake = FakeList(list(range(1000, 0, -1)))
    found = await read_all(fake, page_size=50, depth=4)
    assert found == list(range(1000, 0, -1))
    assert fake.max_in_flight == 4


async def test_read_ahead_wastes_little_at_the_end() -> None:
    fake = FakeList(list(range(1000, 0, -1)))
    await read_all(fake, page_size=50, depth=4)
    # 21 windows hold new items (each starts at the last item of the one before), then the
    # one at the last item and the empty one; at most 2 * depth - 1 were planned past the end.
    assert len(fake.starts) <= 21 + 2 + 7


async def test_closing_early_leaves_no_window_in_flight() -> None:
    fake = FakeList(list(range(1000, 0, -1)))
    pages = paginate(fake.fetch, page_size=50, read_ahead=4)
    async with contextlib.aclosing(pages):
        async for _ in pages:
            break
    assert fake.in_flight == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_failing_window_raises_and_cancels_the_read_ahead() -> None:
    class Broken(FakeList):
        async def fetch(self, window: Window, token: str | None, ahead: bool = False) -> Page:
            if window.start > 100:
                await asyncio.sleep(0)
                raise errors.ServerError(500, error_message="boom")
            return await super().fetch(window, token, ahead)

    fake = Broken(list(range(1000, 0, -1)))
    found: list[int] = []

    async def consume() -> None:
        found.extend(await read_all(fake, page_size=50, depth=4))

    with pytest.raises(errors.ServerError, match="boom"):
        await consume()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_page_token_restarts_are_bounded() -> None:
    tokens: list[str | None] = []

    async def fetch(window: Window, token: str | None, ahead: bool) -> Page:
        tokens.append(token)
        if token is not None:
            raise errors.ApiError(410, error_message="expired")
        return Page([{"id": "1"}], "u", "next")

    async def consume() -> None:
        async for _ in paginate(fetch, page_size=10):
            pass

    with pytest.raises(errors.ApiError, match="expired"):
        await consume()
    # The first read and 3 restarts from the beginning, each followed by its expired token.
    assert tokens == [None, "next"] * 4


async def test_a_window_asked_ahead_that_failed_is_asked_again_when_needed() -> None:
    failed: list[tuple[int, bool]] = []
    asked: list[bool] = []

    class FailsAhead(FakeList):
        async def fetch(self, window: Window, token: str | None, ahead: bool = False) -> Page:
            if window.start == 98:
                asked.append(ahead)
                if not failed:
                    failed.append((window.start, ahead))
                    raise errors.ServerError(503, error_message="busy")
            return await super().fetch(window, token, ahead)

    fake = FailsAhead(list(range(300, 0, -1)))
    assert await read_all(fake, page_size=50, depth=4) == list(range(300, 0, -1))
    assert failed == [(98, True)]  # it failed while asked ahead (tried once)...
    assert asked == [True, False]  # ...and was asked again when needed, now with retries
