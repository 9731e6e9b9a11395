"""Samples and small helpers that several test modules share (tests never import one another)."""

from __future__ import annotations

from invoice_async.testing import parse_ranged_data


def start_of(ranged_data: str | None) -> int:
    """The offset a ``RANGED-DATA`` value asks for, read as the fake server reads it."""
    window = parse_ranged_data(ranged_data or "")
    assert window is not None, f"not a RANGED-DATA value: {ranged_data!r}"
    return window[0]
