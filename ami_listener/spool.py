"""A durable on-disk queue of completed calls waiting for the database sink.

One JSON file per call, `<sequence>-<system>-<linkedid>.json`, written atomically (temporary
file, fsync, rename, fsync of the directory), so after a crash a file is either whole or absent.
Files are listed in name order, which is the order they were written; a file is removed only
after the sink confirmed the call. A file that cannot be parsed is renamed to `*.bad` (kept
for a human) instead of blocking the queue.

Blocking file I/O: callers in the event loop run these methods through `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from .calls import CompletedCall

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


class CallSpool:
    """Append-only directory of calls not yet confirmed by the sink."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._last_sequence = 0

    def put(self, call: CompletedCall) -> Path:
        """Write `call` durably; a call already spooled (same system and linkedid) is kept once."""
        suffix = f"-{_safe(call.system)}-{_safe(call.linkedid)}.json"
        existing = [p for p in self.pending() if p.name.endswith(suffix)]
        if existing:
            return existing[0]
        self._last_sequence = max(time.time_ns(), self._last_sequence + 1)
        path = self.directory / f"{self._last_sequence:020d}{suffix}"
        tmp = self.directory / f".{path.name}.tmp"
        data = call.to_json().encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._fsync_directory()
        return path

    def pending(self) -> list[Path]:
        """Spooled calls, oldest first."""
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def load(self, path: Path) -> CompletedCall | None:
        """The call in `path`, or None (and the file set aside as `.bad`) when unreadable."""
        try:
            return CompletedCall.from_json(path.read_bytes())
        except (OSError, ValueError) as exc:
            log.error("spooled call %s is unreadable (%s); moved aside as .bad", path, exc)
            path.replace(path.with_suffix(".bad"))
            return None

    def remove(self, path: Path) -> None:
        """Forget a call the sink confirmed."""
        path.unlink(missing_ok=True)
        self._fsync_directory()

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:80] or "_"
