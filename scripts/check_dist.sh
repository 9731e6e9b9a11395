#!/usr/bin/env bash
# make dist: build the sdist and the wheel (the wheel from the sdist), then check them in a
# clean venv: the wheel without extras has no rich, imports, and lists invoices from the fake
# server, and its command line says in one line what to install; with [cli] it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-.venv/bin/python}
CHECK=build/dist-check

rm -rf dist "$CHECK"
"$PYTHON" -m build --outdir dist .
wheel=$(ls dist/*.whl)
sdist=$(ls dist/*.tar.gz)
echo "== built $sdist and $wheel"
"$PYTHON" - "$wheel" <<'PY'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for needed in ("invoice_async/py.typed", "invoice_async/testing/openapi.yaml"):
    assert needed in names, f"the wheel lacks {needed}"
assert not any(name.startswith(("tests/", "benchmarks/")) for name in names), "tests in wheel"
PY

python3 -m venv "$CHECK"
venv="$CHECK/bin"
"$venv/python" -m pip install --quiet --upgrade pip
"$venv/python" -m pip install --quiet "$wheel"
echo "== installed without extras"
"$venv/python" - <<'PY'
import importlib.util
import sys

assert importlib.util.find_spec("rich") is None, "rich is installed without the [cli] extra"

import asyncio

from invoice_async import InvoiceClient, to_dict
from invoice_async.testing import FakeI3DServer


async def main() -> None:
    async with FakeI3DServer(token="dist-check", count=30) as url:
        async with InvoiceClient("dist-check", base_url=url) as client:
            rows = [to_dict(invoice) async for invoice in client.invoices()]
    assert len(rows) == 30, len(rows)
    assert "rich" not in sys.modules
    print(f"rich absent; imported, and listed {len(rows)} invoices from the fake server")


asyncio.run(main())
PY
if message=$("$venv/invoice-async" --version 2>&1); then
    echo "invoice-async without [cli] should fail"; exit 1
fi
[ "$(printf '%s\n' "$message" | wc -l)" -eq 1 ] && printf '%s\n' "$message" | grep -q 'invoice_async\[cli\]' ||
    { echo "unexpected: $message"; exit 1; }
echo "without [cli]: $message"

"$venv/python" -m pip install --quiet "$wheel[cli]"
echo "== installed with [cli]: $("$venv/invoice-async" --version)"
"$venv/invoice-async" list --demo --limit 2 --output csv
rm -rf "$CHECK"
echo "== dist ok: $sdist $wheel"
