"""A compact, exact set of item keys, for the pager's drift guard (``_cursor``).

A listing must remember every id it yielded, so that none is yielded twice whatever the server
does: 200,000 ids in a Python set cost about 14 MB (the table and an int object each), with
the decoded id strings 23 MB. Here integer ids from 0 to 2**64 - 1 go into a compressed bitmap
(pyroaring's BitMap64: runs and arrays of 16-bit chunks, a few bytes per id at most, and
almost nothing for ids that run in sequence, as a list's ids do), and any other key (a negative
or larger int, a string) into a small Python set aside.

The keys are ints and strings (``item_key``; a float or a bool is not a key: the bitmap would
truncate it); a key is in the bitmap exactly when it is an int in range. The pager asks about
a whole window of keys at once (:meth:`IdSet.common`, :meth:`IdSet.update`), which the bitmap
answers in C; a window with a key it cannot hold is done one key at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyroaring import BitMap64

Key = int | str


class IdSet:
    """An exact set of keys (ints and strings); ints from 0 to 2**64 - 1 are stored compactly."""

    __slots__ = ("_ints", "_other")

    def __init__(self, keys: Sequence[Key] = ()) -> None:
        self._ints = BitMap64()
        self._other: set[Key] = set()
        self.update(keys)

    def __len__(self) -> int:
        return len(self._ints) + len(self._other)

    def __contains__(self, key: object) -> bool:
        if type(key) is int:
            try:
                return key in self._ints
            except OverflowError:  # negative, or past 64 bits
                pass
        return key in self._other

    def add(self, key: Key) -> None:
        """Add ``key``."""
        if type(key) is int:
            try:
                self._ints.add(key)
                return
            except OverflowError:
                pass
        self._other.add(key)

    def discard(self, key: Key) -> None:
        """Remove ``key`` if it is there."""
        if type(key) is int:
            try:
                self._ints.discard(key)
                return
            except OverflowError:
                pass
        self._other.discard(key)

    def update(self, keys: Sequence[Key]) -> None:
        """Add every key of ``keys``."""
        try:
            self._ints.update(keys)  # type: ignore[arg-type]  # in C; a str raises TypeError
        except (TypeError, OverflowError):  # a key the bitmap cannot hold (partly done: fine)
            for key in keys:
                self.add(key)

    def common(self, keys: Sequence[Key | None]) -> set[Key]:
        """The keys of ``keys`` that are in this set (None is never in it)."""
        try:
            window = BitMap64(keys)  # type: ignore[arg-type]  # in C; None raises TypeError
        except (TypeError, OverflowError):
            return {key for key in keys if key is not None and key in self}
        return set(window & self._ints)
