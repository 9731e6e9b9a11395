"""``python -m invoice_async``: the same as the ``invoice-async`` command."""

import sys

from .cli import main

sys.exit(main())
