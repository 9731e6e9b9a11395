"""What an error reporter records of an error, for tests that look for a token in it."""

from __future__ import annotations

import contextlib
import traceback


def frames_text(error: BaseException) -> str:
    """Everything an error reporter records of an error: the chain, texts, reprs,
    attributes, the repr of every local of every frame of every traceback, and the
    traceback as ``capture_locals=True`` formats it."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(vars(current)), repr(current.args)]
        parts.append("".join(traceback.format_exception(current)))
        with contextlib.suppress(Exception):
            captured = traceback.TracebackException.from_exception(current, capture_locals=True)
            parts.append("".join(captured.format()))
        tb = current.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                with contextlib.suppress(Exception):
                    parts.append(repr(value))
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    return "\n".join(parts)
