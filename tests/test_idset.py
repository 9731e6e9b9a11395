"""The pager's compact set of ids: exactly a set, for every kind of key, however filled."""

from __future__ import annotations

import random
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_async._idset import IdSet, Key

keys = st.one_of(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64, -1, -(2**63)]),
    st.text(max_size=4),
)
EDGES: list[Key] = [0, 1, 2**32, 2**64 - 1, 2**64, 2**100, -1, -(2**64), "12", "", "abc"]


@given(st.lists(keys), st.lists(keys))
def test_it_holds_exactly_what_a_set_holds(added: list[Key], asked: list[Key]) -> None:
    ids = IdSet()
    ids.update(added)
    reference = set(added)
    assert len(ids) == len(reference)
    for key in [*added, *asked]:
        assert (key in ids) == (key in reference)
    assert ids.common([*asked, None]) == reference.intersection(asked)


@given(st.lists(keys, unique=True), st.randoms())
def test_the_order_of_insertion_does_not_matter(added: list[Key], rnd: random.Random) -> None:
    shuffled = list(added)
    rnd.shuffle(shuffled)
    one, other = IdSet(), IdSet()
    for key in added:
        one.add(key)
    other.update(shuffled)
    probe = [*added, "x", 10**30, -7]
    assert [k in one for k in probe] == [k in other for k in probe]
    assert len(one) == len(other) == len(added)


@pytest.mark.parametrize("key", EDGES)
def test_large_negative_huge_and_text_ids_are_kept_exactly(key: Key) -> None:
    ids = IdSet([key])
    assert key in ids
    assert len(ids) == 1
    neighbours = [key + 1, key - 1] if isinstance(key, int) else [key + "x", str(key)[1:]]
    assert all(other not in ids for other in neighbours if other != key)
    ids.discard(key)
    assert key not in ids
    assert len(ids) == 0


def test_an_integer_id_and_its_text_are_different_keys() -> None:
    # The pager reads "12" as 12 before it asks (item_key); the set itself keeps types apart.
    ids = IdSet([12, "13"])
    assert 12 in ids
    assert "12" not in ids
    assert 13 not in ids
    assert "13" in ids


def test_a_window_with_keys_the_bitmap_cannot_hold_is_asked_one_by_one() -> None:
    ids = IdSet([5, -5, "five", 2**70])
    assert ids.common([5, -5, "five", 2**70, None, 6, "six"]) == {5, -5, "five", 2**70}
    ids.update([7, "seven", -7])  # one update, mixed keys
    assert {7, "seven", -7} <= ids.common([7, "seven", -7, 8])
    assert len(ids) == 7


def test_discarding_a_key_that_is_not_there_does_nothing() -> None:
    ids = IdSet([1, "a"])
    for key in (2, "b", -3, 2**80):
        ids.discard(key)
    assert len(ids) == 2


def test_200000_sequential_ids_take_a_few_kilobytes() -> None:
    ids = IdSet()
    for start in range(200_000, 0, -100):  # windows of ids, newest first, as a listing adds them
        ids.update(range(start, start - 100, -1))
    assert len(ids) == 200_000
    assert 1 in ids
    assert 200_001 not in ids
    # A set of 200,000 ints: ~8 MiB of table plus ~5.3 MiB of int objects.
    assert sys.getsizeof(ids._ints.serialize()) < 64 * 1024
