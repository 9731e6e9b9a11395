"""The package's metadata and the core without rich: the command line's dependencies are an
extra (``[cli]``), and the library works with rich blocked from import."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from invoice_async import cli

PROJECT = Path(__file__).resolve().parent.parent
ENTRY_POINT = str(Path(sys.executable).parent / "invoice-async")

# Installed first (``sitecustomize``), it makes ``import rich`` fail as if rich were absent.
BLOCK_RICH = """
import importlib.abc
import sys


class _NoRich(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "rich" or name.startswith("rich."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoRich())
"""

# What a web backend does with the library: the client, the store, the fake server, to_dict.
USE_THE_LIBRARY = """
import asyncio
import sys
from pathlib import Path

from invoice_async import InvoiceClient, InvoiceStore, to_dict
from invoice_async.testing import FakeI3DServer


async def main() -> None:
    async with FakeI3DServer(token="no-rich", count=30) as url:
        async with InvoiceClient("no-rich", base_url=url) as client:
            rows = [to_dict(invoice) async for invoice in client.invoices()]
            async with InvoiceStore(Path(sys.argv[1]) / "s.sqlite") as store:
                synced = await store.sync(client, details=False)
    assert len(rows) == synced.listed == 30
    assert not [name for name in sys.modules if name.split(".")[0] == "rich"]
    print("listed", len(rows))


asyncio.run(main())
"""


def requirements() -> list[Requirement]:
    return [Requirement(text) for text in importlib.metadata.requires("invoice_async") or []]


def test_rich_is_required_only_by_the_cli_extra_of_the_installed_metadata() -> None:
    rich = [req for req in requirements() if req.name == "rich"]
    assert rich, "the [cli] extra must require rich"
    for req in rich:
        assert req.marker is not None
        assert req.marker.evaluate({"extra": "cli"})
        assert not req.marker.evaluate({"extra": ""}), f"unconditional: {req}"
        assert not req.marker.evaluate({"extra": "test"}), f"not only [cli]: {req}"


def test_pyproject_keeps_rich_out_of_the_dependencies_and_names_the_pythons() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [text for text in project["dependencies"] if Requirement(text).name == "rich"]
    assert [Requirement(text).name for text in project["optional-dependencies"]["cli"]] == ["rich"]
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in project["classifiers"]
    assert project["scripts"] == {"invoice-async": "invoice_async.cli:main"}


async def run(*args: str, cwd: Path) -> tuple[int, str, str]:
    """A process with rich blocked from import (a ``sitecustomize`` on PYTHONPATH)."""
    (cwd / "sitecustomize.py").write_text(BLOCK_RICH, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_library_works_with_rich_blocked_from_import(tmp_path: Path) -> None:
    code, out, err = await run(sys.executable, "-c", USE_THE_LIBRARY, str(tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert out == "listed 30\n"


async def test_the_command_line_without_rich_says_in_one_line_what_to_install(
    tmp_path: Path,
) -> None:
    code, out, err = await run(ENTRY_POINT, "list", "--demo", cwd=tmp_path)
    assert code == 1
    assert out == ""
    assert err == cli.INSTALL_HINT + "\n"
    assert 'pip install "invoice_async[cli]"' in err
