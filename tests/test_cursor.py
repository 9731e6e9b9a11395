"""The pager's pure state machine, table-tested: no event loop, no HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_async import errors
from invoice_async._converter import structure_invoice
from invoice_async._cursor import Ask, Cursor, item_key
from tests._samples import LIST_ITEM

Server = Callable[[Ask], tuple[list[int], str | None]]  # ask -> (ids, PAGE-TOKEN)


def honest(ids: list[int], cap: int | None = None) -> Server:
    def answer(ask: Ask) -> tuple[list[int], str | None]:
        size = 3 if cap is None else cap
        return ids[ask.start : ask.start + size], None

    return answer


def drive(server: Server, page_size: int = 3, limit: int = 200) -> tuple[list[int], list[int]]:
    """Run a listing to its end, one request at a time: (starts asked, ids yielded)."""
    cursor = Cursor(page_size)
    starts: list[int] = []
    yielded: list[int] = []
    for _ in range(limit):
        ask = cursor.ask()
        starts.append(ask.start)
        cursor.sending(needed=True)
        ids, token = server(ask)
        items = [{"id": str(i)} for i in ids]
        keys = cursor.heard(items)
        step = cursor.take(items, keys, url="u", page_token=token)
        yielded.extend(int(item["id"]) for item in step.fresh)
        if step.ended:
            return starts, yielded
    raise AssertionError("the listing did not end")


def ignores_ranged_data(ask: Ask) -> tuple[list[int], str | None]:
    return [1, 2, 3], None


def stuck_at(offset: int) -> Server:
    ids = list(range(1, 20))
    return lambda ask: (ids[min(ask.start, offset) : min(ask.start, offset) + 3], None)


def token_loop(ask: Ask) -> tuple[list[int], str | None]:
    return ([1, 2, 3] if ask.token is None else [1]), f"token-{ask.start}"


def duplicate_then_empty(ask: Ask) -> tuple[list[int], str | None]:
    return ([1, 2, 2, 3][ask.start : ask.start + 4] if ask.start == 0 else []), None


@pytest.mark.parametrize(
    ("server", "page_size", "starts", "yielded"),
    [
        # three items: the next window starts at the last one (the anchor), holds nothing
        # after it, and the empty window after it ends the list
        (honest([1, 2, 3]), 3, [0, 2, 3], [1, 2, 3]),
        (honest([]), 3, [0], []),
        (honest([1, 2, 3, 4, 5]), 3, [0, 2, 4, 5], [1, 2, 3, 4, 5]),
        # a cap of 2 below page_size 3: short windows are not the end
        (honest([1, 2, 3, 4, 5], cap=2), 3, [0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),
        # one-item windows cannot overlap: the cursor walks on, one by one
        (honest([1, 2, 3], cap=1), 3, [0, 1, 2, 3], [1, 2, 3]),
        # a window that repeats an id, then empty windows: each id once, and the end: the
        # anchor (3, asked at 3) is missing, the cursor steps back once, then takes the
        # empty window as it is
        (duplicate_then_empty, 4, [0, 3, 0, 3], [1, 2, 3]),
    ],
)
def test_the_cursor_reads_each_list_whole_and_ends(
    server: Server, page_size: int, starts: list[int], yielded: list[int]
) -> None:
    assert drive(server, page_size) == (starts, yielded)


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (ignores_ranged_data, "the same items for start=0 and start=4; it may be ignoring"),
        (stuck_at(6), "the same items for start=6 and start=10; it may be ignoring RANGED-DATA"),
        (token_loop, "the same items for 3 PAGE-TOKEN pages in a row; it may be handing out"),
    ],
)
def test_a_server_answering_the_same_items_again_raises_within_a_few_requests(
    server: Server, message: str
) -> None:
    cursor_starts: list[int] = []

    def recording(ask: Ask) -> tuple[list[int], str | None]:
        cursor_starts.append(ask.start)
        return server(ask)

    with pytest.raises(errors.PagingError, match=message):
        drive(recording)
    assert len(cursor_starts) <= 6


def test_a_missing_anchor_steps_back_and_the_shifted_item_is_not_skipped() -> None:
    ids = [1, 2, 3, 4, 5, 6]
    asked: list[int] = []

    def server(ask: Ask) -> tuple[list[int], str | None]:
        asked.append(ask.start)
        if len(asked) == 2:
            ids.remove(1)  # paid: the list moves left by one before the second window
        return ids[ask.start : ask.start + 3], None

    starts, yielded = drive(server)
    assert yielded == [1, 2, 3, 4, 5, 6]
    assert starts[:3] == [0, 2, 0]  # at 2 the anchor (3) was gone: one step back


def test_answers_without_a_new_id_stop_the_read_ahead_until_one_brings_one() -> None:
    cursor = Cursor(page_size=3, read_ahead=4)
    assert cursor.may_ask_ahead()
    for ids, ahead in (([1, 2, 3], True), ([1, 2, 3], False), ([2, 3, 4], True)):
        cursor.sending(needed=True)
        cursor.heard([{"id": i} for i in ids])
        assert cursor.may_ask_ahead() is ahead


def test_the_request_budget_is_two_per_productive_answer_plus_two_per_read_ahead_plus_ten() -> None:
    cursor = Cursor(page_size=3, read_ahead=2)
    assert cursor.budget == 2 * 0 + 2 * 2 + 10
    cursor.sending(needed=True)
    cursor.heard([{"id": 1}])
    assert cursor.budget == 2 * 1 + 14 - 1
    for _ in range(14):  # answers that bring nothing new: 2 * read_ahead + 10 in a row
        cursor.sending(needed=True)
        cursor.heard([{"id": 1}])
    with pytest.raises(errors.PagingError, match="14 windows in a row without a new invoice"):
        cursor.sending(needed=True)


def test_ids_held_by_an_answer_set_aside_make_later_answers_non_productive() -> None:
    cursor = Cursor(page_size=3, read_ahead=2)
    cursor.sending(needed=False)
    cursor.heard([{"id": 7}])  # asked ahead and set aside: 7 is held, not yielded
    cursor.sending(needed=True)
    keys = cursor.heard([{"id": 7}])
    assert not cursor.may_ask_ahead()  # the second answer brought nothing new
    assert cursor.take([{"id": 7}], keys).fresh == [{"id": 7}]  # yet 7 is yielded, once


@pytest.mark.parametrize(("status", "restarts"), [(410, True), (400, True), (500, False)])
def test_a_failed_page_token_restarts_from_the_beginning(status: int, restarts: bool) -> None:
    cursor = Cursor(page_size=3)
    cursor.sending(needed=True)
    items = [{"id": 1}, {"id": 2}]
    cursor.take(items, cursor.heard(items), page_token="t1")
    assert cursor.ask() == Ask(2, token="t1")
    assert cursor.restart(errors.ApiError(status)) is restarts
    if restarts:
        assert cursor.ask().start == 0
        assert cursor.ask().token is None
        keys = cursor.heard(items)
        assert cursor.take(items, keys).fresh == []  # the seen ids keep out repeats


def test_restarts_are_bounded() -> None:
    cursor = Cursor(page_size=3)
    for _ in range(3):
        cursor.take([{"id": 1}], [1], page_token="t")
        assert cursor.restart(errors.ApiError(410))
    cursor.take([{"id": 1}], [1], page_token="t")
    assert not cursor.restart(errors.ApiError(410))


def test_read_ahead_plans_windows_one_item_apart_on_a_one_item_cap() -> None:
    cursor = Cursor(page_size=100, read_ahead=4)
    assert cursor.ask() == Ask(0, step=99, limit=8)
    items = [{"id": 1}]
    cursor.sending(needed=True)
    cursor.take(items, cursor.heard(items))
    assert cursor.ask() == Ask(1, step=1, limit=8)  # never a step of 0


# --- keys: ids as the converter reads them ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("12", 12),
        (12, 12),
        ("+12", 12),
        ("012", 12),
        ("-3", -3),
        (2**70, 2**70),
        ("abc", "abc"),
        (12.0, "12.0"),
        (True, "True"),
        ("1" * 5000, "1" * 5000),  # too long for int(): kept as text
    ],
)
def test_an_item_key_is_the_id_as_the_converter_reads_it(value: object, key: object) -> None:
    assert item_key({"id": value}) == key
    assert type(item_key({"id": value})) is type(key)


@pytest.mark.parametrize("item", [{"id": None}, {}, [1], "12", None])
def test_an_item_without_an_id_has_no_key(item: object) -> None:
    assert item_key(item) is None


@given(st.one_of(st.integers(), st.integers().map(str), st.text(max_size=6), st.floats()))
def test_a_typed_invoice_and_its_raw_item_have_one_key(value: object) -> None:
    raw = {**LIST_ITEM, "id": value}
    try:
        invoice = structure_invoice(raw)
    except errors.InvalidResponseError:
        assert not isinstance(item_key(raw), int)  # it fails to structure when yielded
    else:
        assert item_key(raw) == invoice.id  # the key the fast path gives its typed items


def test_a_window_with_a_repeated_id_yields_it_once_and_keyless_items_each_time() -> None:
    cursor = Cursor(page_size=5)
    items = [{"id": 1}, {"id": "1"}, {"x": 0}, {"id": 2}, {"x": 1}]
    cursor.sending(needed=True)
    fresh = cursor.take(items, cursor.heard(items)).fresh
    assert fresh == [{"id": 1}, {"x": 0}, {"id": 2}, {"x": 1}]


def test_typed_items_with_keys_given_are_taken_as_raw_ones_are() -> None:
    cursor = Cursor(page_size=3)
    typed = ["first", "second", "third"]  # any items: the keys decide
    cursor.sending(needed=True)
    keys = cursor.heard(typed, [10, 11, 12])
    assert keys == [10, 11, 12]
    assert cursor.take(typed, keys).fresh == typed
    cursor.sending(needed=True)
    again = [{"id": "12"}, {"id": "13"}]  # the next window, read by the slow path
    assert cursor.take(again, cursor.heard(again)).fresh == [{"id": "13"}]
