"""The faults the fake server can inject."""

from __future__ import annotations

from typing import Final, Literal

FaultKind = Literal["500", "503", "429", "reset", "truncated"]
"""A fault the server can inject: an error status, a reset mid-body, or a truncated body."""

FAULT_KINDS: Final[tuple[FaultKind, ...]] = ("500", "503", "429", "reset", "truncated")
"""Every fault kind, the default of ``fault_kinds``."""
