"""The ``invoice-async`` command line (also ``python -m invoice_async``)."""

from ._main import main

__all__ = ["main"]
