"""A durable on-disk queue of completed calls waiting for the database sink.

One JSON file per call, `<sequence>-<system>-<linkedid>.json`, written atomically (temporary
file, fsync, rename, fsync of the directory), so after a crash a file is either whole or absent.
Files are listed in name order, which is the order they were written; a file is removed only
after the sink confirmed the call, or set it aside as refused (`refused.py`, the `refused/`
folder inside this one). A file that cannot be parsed is renamed to `*.bad` (kept for a human)
instead of blocking the queue.

Calls are written and removed in batches: each file is still fsynced on its own, but the
directory once per batch, and the caller pays one thread hop per batch instead of per call.

Blocking file I/O: callers in the event loop run these methods through `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
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
        self._lock = threading.Lock()  # the spooler and the delivery run in different threads
        # (system, linkedid) part of the name -> file, so a repeat is found without a listing.
        self._spooled = {_key_of_file(p.name): p for p in self.pending()}

    def put(self, call: CompletedCall) -> Path:
        """Write `call` durably; a call already spooled (same system and linkedid) is kept once."""
        paths = self.put_many([call])
        if not paths:
            raise ValueError(f"call {call.linkedid} cannot be written to the spool (see the log)")
        return paths[0]

    def put_many(self, calls: Sequence[CompletedCall]) -> list[Path]:
        """Write `calls` durably, in order; returns their files once all of them are on disk.

        A call that cannot be serialised (a bug in the record, not the disk) is logged with its
        content and left out, so it cannot hold back the rest; disk errors raise.
        """
        paths = []
        written = False
        for call in calls:
            suffix = _key_of(call)
            with self._lock:
                existing = self._spooled.get(suffix)
            if existing is not None:
                paths.append(existing)
                continue
            try:
                data = call.to_json().encode("utf-8")
            except (ValueError, TypeError):  # UnicodeEncodeError is a ValueError
                # The id only: the record holds the caller's number and name.
                log.exception(
                    "call %s %s cannot be serialised for the spool", call.system, call.linkedid
                )
                continue
            self._last_sequence = max(time.time_ns(), self._last_sequence + 1)
            path = self.directory / f"{self._last_sequence:020d}{suffix}"
            write_durably(path, data)
            with self._lock:
                self._spooled[suffix] = path
            paths.append(path)
            written = True
        if written:
            self._fsync_directory()
        return paths

    def pending(self) -> list[Path]:
        """Spooled calls, oldest first."""
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def oldest(self, limit: int) -> list[tuple[Path, CompletedCall | None]]:
        """Up to `limit` spooled calls, oldest first, each with its file (None: unreadable)."""
        return [(path, self.load(path)) for path in self.pending()[:limit]]

    def load(self, path: Path) -> CompletedCall | None:
        """The call in `path`, or None (and the file set aside as `.bad`) when unreadable."""
        try:
            return CompletedCall.from_json(path.read_bytes())
        except (OSError, ValueError) as exc:
            log.error("spooled call %s is unreadable (%s); moved aside as .bad", path, exc)
            path.replace(path.with_suffix(".bad"))
            self._forget([path])
            return None

    def remove(self, path: Path) -> None:
        """Forget a call the sink confirmed."""
        self.remove_many([path])

    def remove_many(self, paths: Iterable[Path]) -> None:
        """Forget calls the sink confirmed."""
        paths = list(paths)
        for path in paths:
            path.unlink(missing_ok=True)
        self._forget(paths)
        if paths:
            self._fsync_directory()

    def _forget(self, paths: Iterable[Path]) -> None:
        with self._lock:
            for path in paths:
                if self._spooled.get(_key_of_file(path.name)) == path:
                    del self._spooled[_key_of_file(path.name)]

    def _fsync_directory(self) -> None:
        fsync_directory(self.directory)


def write_durably(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a temporary file, fsync, rename (the caller fsyncs the
    directory, once per batch)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _key_of(call: CompletedCall) -> str:
    """The part of a spool file name after the sequence: `-<system>-<linkedid>.json`."""
    return f"-{file_key(call)}.json"


def file_key(call: CompletedCall) -> str:
    """`<system>-<linkedid>`, safe as a file name."""
    return f"{_safe(call.system)}-{_safe(call.linkedid)}"


def _key_of_file(name: str) -> str:
    """`-<system>-<linkedid>.json` of a spool file name (the part after the sequence)."""
    return name[name.index("-") :] if "-" in name else name


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:80] or "_"
