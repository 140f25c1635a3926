"""The spool's `refused/` area: calls the database will not store as they are, set aside.

A call lands here when the sink refused it alone (`sink.CallRefused`), so the calls behind it
are written at once instead of waiting. One JSON file per call, `<system>-<linkedid>.json`
(a call refused again replaces its own file), written like the spool's (temporary file, fsync,
rename, fsync of the directory) before the call leaves the spool: never lost. The file holds the
reason and the call's record:

    {"version": 1, "refused_at": "…", "attempts": 1,
     "error": "IntegrityError (CheckViolationError)",
     "detail": "new row for relation \"calls\" violates check constraint …",
     "call": {…the spool's record of the call…}}

Once the cause is fixed (in the database, or in the `call` object of the file when the record
itself is wrong), `callrouter refused replay` stores them again; the writer is idempotent on
(system, linkedid), so a replay never duplicates a call.

Blocking file I/O: callers in the event loop run these methods through `asyncio.to_thread`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .calls import CompletedCall
from .spool import file_key, fsync_directory, write_durably

FORMAT_VERSION = 1


@dataclass(frozen=True)
class RefusedCall:
    """One file of the area; `call` is None when the file cannot be read (see `detail`)."""

    path: Path
    call: CompletedCall | None
    error: str
    detail: str
    refused_at: str
    attempts: int

    @property
    def started_at(self) -> datetime:
        return self.call.started_at if self.call else datetime.max.replace(tzinfo=UTC)


class RefusedCalls:
    """The directory of refused calls (created on the first refusal)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def put_many(self, refusals: Sequence[tuple[CompletedCall, str, str]]) -> list[Path]:
        """Set aside each (call, error, detail) durably; returns their files."""
        if not refusals:
            return []
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for call, error, detail in refusals:
            path = self.directory / f"{file_key(call)}.json"
            write_durably(path, _document(call, error, detail, attempts=1))
            paths.append(path)
        fsync_directory(self.directory)
        return paths

    def refused_again(self, entry: RefusedCall, error: str, detail: str) -> None:
        """A replay was refused: keep the call with the new reason, one attempt more."""
        if entry.call is None:
            raise ValueError(f"{entry.path} holds no readable call")
        write_durably(entry.path, _document(entry.call, error, detail, entry.attempts + 1))
        fsync_directory(self.directory)

    def remove(self, entry: RefusedCall) -> None:
        """Forget a call the database now has."""
        entry.path.unlink(missing_ok=True)
        fsync_directory(self.directory)

    def paths(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def count(self) -> int:
        return len(self.paths())

    def entries(self) -> list[RefusedCall]:
        """Every refused call, in the order the calls started (the order to store them in)."""
        return sorted((self.load(path) for path in self.paths()), key=lambda e: e.started_at)

    def load(self, path: Path) -> RefusedCall:
        try:
            data = json.loads(path.read_bytes())
            call = CompletedCall.from_json(json.dumps(data["call"]))
            return RefusedCall(
                path,
                call,
                str(data["error"]),
                str(data["detail"]),
                str(data["refused_at"]),
                int(data["attempts"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A hand edit gone wrong: shown, never deleted; a replay leaves it alone.
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return RefusedCall(path, None, "unreadable", reason, "", 0)


def _document(call: CompletedCall, error: str, detail: str, attempts: int) -> bytes:
    data: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "refused_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "attempts": attempts,
        "error": error,
        "detail": detail,
        "call": json.loads(call.to_json()),
    }
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
