"""The pager's decisions as a pure state machine: what is new, what to ask next, when the list
ends, and when the server is not making progress. No I/O and no event loop: ``_paging`` drives
it, and the tests feed it answers by hand.

The drift guard. Offsets move when the list changes during a read: an invoice added at the
head repeats items, one leaving the list (an unpaid invoice being paid) would skip one. So:

- no id is yielded twice in one listing (the set of ids seen);
- each window after the first starts at the last item of the one before (an overlap of one,
  the anchor), and only the items after the last already-seen item are new. A window that
  does not hold the anchor means the list moved left past it: the cursor steps back a window
  and looks again, rather than skipping. It steps back from one offset once between two
  productive answers; a server that misses the anchor there again is taken at its word;
- a short window is not the end: the list ends when the window asked at the last seen item
  holds nothing after it and the window right after that is empty.

Guarantee: every invoice that stays in the list, in the same order, for the whole read is
yielded exactly once, as long as windows hold two items or more (one-item windows cannot
overlap, so a shift can skip one; they still never repeat one).

The progress guarantee. An answer is *productive* when it holds an id that no earlier answer
of the listing held, counted in the order answers arrive (windows asked ahead and then set
aside included). With P productive answers and ``read_ahead`` R, a listing sends at most
``2 * P + 2 * R + 10`` list requests (retries not counted; each PAGE-TOKEN restart may add as
many again), and never gets more than ``2 * R + 10`` non-productive answers in a row: it ends or
raises :class:`errors.PagingError` first. Windows are asked ahead only while the answers are
productive. The same full windows answered for three offsets a window apart (or the same
items for three PAGE-TOKEN pages) in a row raise at once: the server is ignoring
``RANGED-DATA``, is stuck on an offset, or hands out tokens in a loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, cast

import attrs

from . import errors
from ._converter import as_integer
from ._idset import IdSet, Key

OVERLAP: Final = 1
MAX_TOKEN_RESTARTS: Final = 3
TOKEN_RESTART_STATUSES: Final = frozenset({400, 410})
REPEATS: Final = 3  # the same items this many times in a row: the server is stuck


def item_key(item: Any) -> Key | None:
    """The identity of a raw list item: its id as the converter reads it (``"12"`` and ``12``
    are one invoice, 12), or as text when it is no integer; None when it has no id."""
    if isinstance(item, dict):
        value = item.get("id")
        if value is not None:
            number = as_integer(value)
            return str(value) if number is None else number
    return None


@attrs.frozen
class Ask:
    """What to request next: the window at ``start``, or the page named by ``token``.

    With a ``step``, up to ``limit`` windows (this one included) may be planned ``step``
    apart and asked ahead, when :meth:`Cursor.may_ask_ahead` allows it.
    """

    start: int
    token: str | None = None
    step: int | None = None
    limit: int = 1


@attrs.frozen
class Step:
    """What one answer gave: the items new to this listing, and whether the list ended."""

    fresh: list[Any]
    ended: bool = False


class Cursor:
    """The state of one listing. Feed every answer to :meth:`heard` as it arrives, then the
    answer of each window that :meth:`ask` named to :meth:`take`, in order."""

    def __init__(self, page_size: int, read_ahead: int = 1) -> None:
        self.page_size = page_size
        self.read_ahead = read_ahead
        self.idle_limit = 2 * read_ahead + 10
        self._overlap = max(1, min(OVERLAP, page_size - 1)) if page_size > 1 else 0
        self._seen = IdSet()  # ids yielded: compact, it holds every id of the listing
        self._held: set[Key] = set()  # ids that arrived in an answer, not yielded yet (few)
        self._stride = 0  # the longest window seen: the server's cap, or page_size
        self._start, self._anchored, self._full = 0, False, True
        self._token: str | None = None
        self._restarts = 0
        self._missed: set[int] = set()  # starts stepped back from since the last new item
        # progress, per PAGE-TOKEN restart: requests sent, productive answers, idle run
        self._sent = self._productive = self._idle = self._in_flight = 0
        self._last: tuple[tuple[Key | None, ...], int] | None = None  # keys and start, last taken
        self._repeat_from, self._repeats = 0, 1
        self._url = ""

    # --- what to ask -------------------------------------------------------------------------

    def ask(self) -> Ask:
        """The next request; with read-ahead, the plan of windows after it."""
        if self._token is not None:
            return Ask(self._start, token=self._token)
        if self.read_ahead > 1:
            # the steady state (one-item windows cannot overlap: they walk on, planned too)
            if self._full and (self._anchored or self._start == 0 or self._stride == 1):
                stride = self._stride or self.page_size
                step = max(1, stride - min(self._overlap, stride - 1))
                return Ask(self._start, step=step, limit=2 * self.read_ahead)
            if self._anchored:  # after a short window: the end's two windows at once
                return Ask(self._start, step=1, limit=2)
        return Ask(self._start)

    @property
    def budget(self) -> int:
        """Requests this listing may still send: ``2 * P + 2 * R + 10``, less those sent."""
        return 2 * self._productive + self.idle_limit - self._sent

    def may_ask_ahead(self) -> bool:
        """Whether a window may be asked ahead now: only while answers are productive, and
        never so many that the idle limit or the budget could be passed."""
        return (
            self._idle == 0
            and self.budget > 1
            and self._idle + self._in_flight + 1 < self.idle_limit
        )

    def sending(self, *, needed: bool) -> None:
        """A request is about to be sent (not a retry). A needed one past the budget or the
        idle limit raises PagingError instead: the server is not making progress."""
        if needed and (self.budget <= 0 or self._idle + self._in_flight >= self.idle_limit):
            raise self._stuck()
        self._sent += 1
        self._in_flight += 1

    def resending(self) -> None:
        """A failed window is asked again (a retry: not counted against the budget)."""
        self._in_flight += 1

    # --- what came back ----------------------------------------------------------------------

    def heard(
        self, items: Sequence[Any], keys: Sequence[Key | None] | None = None
    ) -> Sequence[Key | None]:
        """An answer arrived (needed or not): count its progress; returns its items' keys
        (``keys``, when the decoder gave them, else read from the raw items)."""
        self._in_flight -= 1
        if keys is None:
            keys = [item_key(item) for item in items]
        new = set(keys)
        new.discard(None)
        new -= self._seen.common(keys)
        productive = not new <= self._held
        self._held |= cast(set[Key], new)  # None was discarded
        if productive:
            self._productive += 1
            self._idle = 0
        else:
            self._idle += 1
        return keys

    def lost(self) -> None:
        """A request ended with no answer (an error, or cancelled)."""
        self._in_flight -= 1

    def take(
        self,
        items: Sequence[Any],
        keys: Sequence[Key | None],
        *,
        url: str = "",
        page_token: str | None = None,
    ) -> Step:
        """The answer to the last :meth:`ask`: what is new, and what to ask next.

        Raises PagingError when the server answers the same items again and again.
        """
        start, self._url = self._start, url or self._url
        last_seen = _last_seen(keys, self._seen.common(keys))
        missing = self._token is None and self._anchored and start > 0 and last_seen < 0
        # No seen item where one was expected: the list moved left past the overlap (or
        # shrank below start), so step back rather than skip. Missed at the same start twice
        # with nothing new between, the server is not consistent: its window is taken as it
        # is (a step back would only find the same).
        if missing and start not in self._missed:
            self._missed.add(start)
            self._start, self._full = max(0, start - max(self._stride, 1)), False
            # A shift seen is a list that lives, not a stuck server: the idle run starts over
            # (the budget of requests still bounds the whole listing; one step back per start).
            self._idle = 0
            return Step([])
        fresh = self._fresh(items, keys, last_seen + 1)
        self._check_progress(start, keys, fresh)
        self._stride = max(self._stride, min(len(items), self.page_size))
        self._full = len(items) >= self._stride
        if page_token is not None:
            self._start, self._anchored, self._token = start + len(items), False, page_token
        elif self._token is not None or not items:
            return Step(fresh, ended=True)  # the last token page, or an empty window
        elif fresh:
            end = start + len(items)
            self._start = max(start + 1, end - self._overlap)
            self._anchored = self._start < end  # a window of one item cannot overlap
        elif self._stride == 1:
            self._start, self._anchored = start + len(items), False  # one-item windows
        elif self._anchored and last_seen == 0 and len(items) == 1:
            # The window at the last seen item holds no more: the list ends there, and the
            # empty window right after it confirms.
            self._start, self._anchored = start + 1, False
        else:
            # Nothing new after the last seen item: look again from that item itself, so a
            # shift in between shows as a missing anchor instead of a skipped item.
            self._start, self._anchored = start + last_seen, True
        return Step(fresh)

    def restart(self, error: errors.ApiError) -> bool:
        """Whether a failed PAGE-TOKEN page restarts the listing from the beginning (a 400
        or 410 for the token, at most MAX_TOKEN_RESTARTS times). The seen ids keep out
        repeats; the progress budget starts over."""
        if self._token is None or error.status not in TOKEN_RESTART_STATUSES:
            return False
        if self._restarts >= MAX_TOKEN_RESTARTS:
            return False
        self._restarts += 1
        self._start, self._anchored, self._full, self._token = 0, False, True, None
        self._sent = self._productive = self._idle = 0
        self._missed.clear()
        self._last = None
        return True

    # --- internals ---------------------------------------------------------------------------

    def _fresh(self, items: Sequence[Any], keys: Sequence[Key | None], begin: int) -> list[Any]:
        """The items from ``begin`` on not yielded yet, now marked as seen. None of their keys
        is seen yet (``begin`` is past the last seen one), but a key may repeat."""
        tail = keys[begin:]
        if None not in tail and len(set(tail)) == len(tail):  # the usual window: all new
            fresh, new = list(items[begin:]), cast(Sequence[Key], tail)
        else:
            fresh, first = [], dict[Key, None]()  # keys in window order
            for item, key in zip(items[begin:], tail, strict=True):
                if key is None or key not in first:
                    fresh.append(item)
                if key is not None:
                    first[key] = None
            new = list(first)
        self._seen.update(new)
        self._held.difference_update(new)
        return fresh

    def _check_progress(self, start: int, keys: Sequence[Key | None], fresh: list[Any]) -> None:
        if fresh:
            self._missed.clear()
        signature = (tuple(keys), start)
        if self._last is not None and keys and signature[0] == self._last[0]:
            # The same items again: for PAGE-TOKEN pages, a loop. For windows, only windows as
            # full as asked whose offsets are a window apart: the list would have moved by a
            # whole window while one was read, which no list within the drift guarantee does.
            # (Shorter windows, a cap or a short list, are left to the idle limit: a short
            # list that grows at its head repeats its few items honestly.)
            size, moved = self.page_size, abs(start - self._last[1])
            if self._token is not None or (len(keys) == size > 1 and moved >= size - 1):
                self._repeats += 1
        else:
            self._repeat_from, self._repeats = start, 1
        self._last = signature
        if self._repeats >= REPEATS:
            raise self._stuck()

    def _stuck(self) -> errors.PagingError:
        if self._token is not None:
            what = (
                f"the API answered the same items for {self._repeats} PAGE-TOKEN pages in a row"
                if self._repeats >= REPEATS
                else f"the API answered {self._idle} PAGE-TOKEN pages in a row without a new "
                "invoice"
            )
            return errors.PagingError(
                f"{what}; it may be handing out tokens in a loop", url=self._url
            )
        if self._repeats >= 2 and self._last is not None:
            what = (
                f"the API answered the same items for start={self._repeat_from} and "
                f"start={self._last[1]}"
            )
        else:
            what = (
                f"the API answered {self._idle} windows in a row without a new invoice "
                f"({self._productive} of {self._sent} requests brought one)"
            )
        return errors.PagingError(f"{what}; it may be ignoring RANGED-DATA", url=self._url)


def _last_seen(keys: Sequence[Key | None], seen: set[Key]) -> int:
    """The index of the last item already yielded (``seen``: those of ``keys``), or -1."""
    if seen:
        for index in range(len(keys) - 1, -1, -1):
            if keys[index] in seen:
                return index
    return -1
