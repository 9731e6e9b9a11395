"""The generated contender: openapi-python-client run at benchmark time, imported dynamically.

``generate()`` runs ``openapi-python-client generate`` on ``invoice_async/testing/openapi.yaml``
into ``benchmarks/_generated/billing_client`` (git-ignored, never committed), with no network
and no post hooks. ``load()`` imports the generated package by name with importlib, so neither
mypy nor ruff ever needs the generated code: everything it gives is typed ``Any``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

import attrs

from ._common import (
    GENERATED_DIR,
    GENERATED_PACKAGE,
    OPENAPI_DIR,
    OPENAPI_DOCUMENT,
    PROJECT_DIR,
)

_TIMEOUT = 120.0


def generate() -> dict[str, Any]:
    """Generate the client afresh; returns what was run and how long it took.

    Raises RuntimeError with the generator's output when it fails or warns (a warning means
    part of the document was left out of the client).
    """
    output = GENERATED_DIR / GENERATED_PACKAGE
    GENERATED_DIR.mkdir(exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(OPENAPI_DOCUMENT),
        "--config",
        str(OPENAPI_DIR / "config.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(output),
        "--overwrite",
        "--fail-on-warning",
    ]
    began = time.perf_counter()
    done = subprocess.run(
        command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=_TIMEOUT, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"openapi-python-client failed:\n{done.stdout}\n{done.stderr}")
    return {
        "generator": f"openapi-python-client {metadata.version('openapi-python-client')}",
        "command": " ".join(command[1:]).replace(str(PROJECT_DIR) + "/", ""),
        "seconds": round(seconds, 3),
    }


@attrs.frozen
class Generated:
    """The parts of the generated client a contender uses (all typed Any)."""

    authenticated_client: Any
    list_invoices: Any
    get_invoice: Any
    get_invoice_pdf: Any


def load() -> Generated:
    """Import the generated client from ``benchmarks/_generated``."""
    if str(GENERATED_DIR) not in sys.path:
        sys.path.insert(0, str(GENERATED_DIR))
    package = importlib.import_module(GENERATED_PACKAGE)
    api = f"{GENERATED_PACKAGE}.api.invoice"
    return Generated(
        authenticated_client=package.AuthenticatedClient,
        list_invoices=importlib.import_module(f"{api}.list_invoices"),
        get_invoice=importlib.import_module(f"{api}.get_invoice"),
        get_invoice_pdf=importlib.import_module(f"{api}.get_invoice_pdf"),
    )
