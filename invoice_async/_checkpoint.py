"""The export's checkpoint: what was listed and which details are done, kept in OUT_DIR.

``OUT_DIR/.checkpoint/`` holds append-only JSON-lines files, flushed after each record, so a
run killed at any point leaves every finished record readable; a line cut short by the kill is
ignored when read back. PDFs need no entry: a PDF file only ever exists whole.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

from . import errors

DIRECTORY: Final = ".checkpoint"
_LISTING: Final = "listing.jsonl"
_LISTING_DONE: Final = "listing.done"
_DETAILS: Final = "details.jsonl"
_SCOPE: Final = "scope.json"


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file; a last line cut short by a kill is skipped."""
    try:
        file = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with file:
        for number, line in enumerate(file, 1):
            if not line.endswith("\n"):
                return  # the write of this line never finished
            try:
                yield json.loads(line)
            except ValueError:
                raise _corrupt(path, f"line {number}") from None


def _corrupt(path: Path, where: str) -> errors.ConfigurationError:
    return errors.ConfigurationError(
        f"--resume: the checkpoint {path} is corrupt ({where}); run without --resume"
    )


class Checkpoint:
    """Records of one export, kept so that ``--resume`` fetches only what is missing."""

    def __init__(self, out_dir: Path, *, resume: bool, scope: dict[str, Any]) -> None:
        """Open the checkpoint of ``out_dir`` for an export of ``scope`` (what is listed).

        Without ``resume`` any earlier checkpoint is dropped. Resuming a checkpoint made for
        another scope raises ConfigurationError: its records would not belong to this export.
        """
        self.path = out_dir / DIRECTORY
        if not resume and self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        scope_file = self.path / _SCOPE
        if scope_file.exists():
            try:
                earlier = json.loads(scope_file.read_text(encoding="utf-8"))
            except ValueError:
                raise _corrupt(scope_file, "its scope") from None
            if earlier != scope:
                raise errors.ConfigurationError(
                    f"--resume: {out_dir} holds an export of {earlier}, not of {scope}; "
                    "use another folder or run without --resume"
                )
        else:
            scope_file.write_text(json.dumps(scope), encoding="utf-8")

    @property
    def listing_done(self) -> bool:
        """Whether an earlier run listed every invoice."""
        return (self.path / _LISTING_DONE).exists()

    def listed(self) -> list[dict[str, Any]]:
        """The invoices an earlier run listed, in list order."""
        return list(read_records(self.path / _LISTING))

    def done_details(self) -> dict[int, dict[str, Any]]:
        """The details an earlier run fetched, by the invoice id they were asked for."""
        done = {}
        for entry in read_records(self.path / _DETAILS):
            if not isinstance(entry, dict) or not {"invoice_id", "detail"} <= entry.keys():
                raise _corrupt(self.path / _DETAILS, "an entry")
            done[entry["invoice_id"]] = entry["detail"]
        return done

    def listing_writer(self) -> _Appender:
        """A fresh listing file (any earlier partial listing is dropped)."""
        return _Appender(self.path / _LISTING, truncate=True)

    def details_writer(self) -> _Appender:
        """The details file, to append to."""
        return _Appender(self.path / _DETAILS, truncate=False)

    def finish_listing(self) -> None:
        """Mark the listing complete."""
        (self.path / _LISTING_DONE).touch()

    def remove(self) -> None:
        """Drop the checkpoint once the export is complete."""
        shutil.rmtree(self.path, ignore_errors=True)


def _drop_partial_line(path: Path) -> None:
    """Cut a line that a kill left unfinished, so appending starts on a fresh line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with path.open("r+b") as file:
            file.truncate(keep)


class _Appender:
    """Appends JSON lines, each flushed at once; fsynced on close."""

    def __init__(self, path: Path, *, truncate: bool) -> None:
        if not truncate:
            _drop_partial_line(path)
        self._file: IO[str] = path.open("w" if truncate else "a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line, and flush it to the OS."""
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """fsync and close."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> _Appender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
