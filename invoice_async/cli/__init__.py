"""The ``invoice-async`` command line: the application on top of the library.

It needs the ``[cli]`` extra (``pip install "invoice_async[cli]"``), which brings rich for its
tables and progress bar; the library itself never imports this package, so ``import
invoice_async`` works without rich. Commands: ``list``, ``show``, ``pdf``, ``summary``,
``export``, ``sync`` and ``fake-server``; ``invoice-async --help`` says the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

__all__ = ["INSTALL_HINT", "main"]

INSTALL_HINT: Final = (
    'invoice-async: error: the command line needs the [cli] extra: pip install "invoice_async[cli]"'
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``invoice-async`` with ``argv`` (default: the process's); returns the exit status.

    Without rich installed, it prints :data:`INSTALL_HINT` on stderr and returns 1.
    """
    try:
        import rich  # noqa: F401  # the [cli] extra
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    from ._main import main as run

    return run(argv)
