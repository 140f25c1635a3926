"""The listener's knowledge of which endpoints are managers' phones, kept from the directory.

`DirectoryPhones` is the `phones` source `AmiListener` asks as it assembles each call: a
snapshot swapped in whole, refreshed every `routing.directory_refresh_seconds` and on SIGHUP.
Every manager's phone counts, active or not: an inactive manager's phone is still the office's.
Until a directory was loaded from the database once (it was away at start), the phones come
from the directory snapshot routing keeps on disk (`<spool_dir>/directory.json`, degraded.py),
re-read when that file changes; with no snapshot either it gives None, and the listener tells
trunks from phones by their names (`ami.trunk_endpoints`, `ami.internal_max_digits`); each is
logged once. A failed refresh keeps the last phones, and tells `on_failure` (the degraded-mode
monitor checks whether the database went away).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from core.phonebook import PhoneBook
from models.db import Database
from models.directory import load_directory

from .degraded import read_snapshot

log = logging.getLogger(__name__)


class DirectoryPhones:
    """The current `PhoneBook` (None until one loaded); call it for the snapshot."""

    def __init__(
        self,
        db: Database,
        refresh_seconds: float = 30.0,
        *,
        snapshot: Path | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._db = db
        self.refresh_seconds = refresh_seconds
        self.snapshot = snapshot
        self._on_failure = on_failure
        self._book: PhoneBook | None = None
        self._from_database = False
        self._snapshot_stamp: float | None = None  # mtime of the snapshot file last read
        self._said_fallback = False

    def __call__(self) -> PhoneBook | None:
        return self._book

    async def refresh(self) -> bool:
        """Load the directory's phones now; False (the last phones kept, or the snapshot's
        while none came from the database) when it fails."""
        try:
            async with self._db.reader() as session:
                directory = await load_directory(session)
        except Exception as exc:
            if self._on_failure is not None:
                self._on_failure(exc)
            if not self._from_database and await self._from_snapshot():
                return False
            if self._book is None and not self._said_fallback:
                self._said_fallback = True
                log.warning(
                    "directory not loaded (%s): managers' phones are told from trunks by "
                    "endpoint names (ami.trunk_endpoints, ami.internal_max_digits) until it is",
                    type(exc).__name__,
                    extra={"event": "phones_by_name"},
                )
            else:
                log.warning("directory phones not refreshed (%s)", type(exc).__name__)
            return False
        first = not self._from_database
        self._book = PhoneBook.of_directory(directory)
        self._from_database = True
        if first and (self._said_fallback or self._snapshot_stamp is not None):
            log.info(
                "directory loaded: %d phones known from the database",
                len(self._book),
                extra={"event": "phones_from_directory"},
            )
        return True

    async def _from_snapshot(self) -> bool:
        """Take the phones from the snapshot file when it changed since last read; whether the
        listener has snapshot phones now."""
        path = self.snapshot
        if path is None:
            return False
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return self._snapshot_stamp is not None
        if stamp == self._snapshot_stamp:
            return True
        loaded = await asyncio.to_thread(read_snapshot, path)
        if loaded is None:
            return self._snapshot_stamp is not None
        self._book = PhoneBook.of_directory(loaded[0])
        self._snapshot_stamp = stamp
        log.warning(
            "directory not loaded: managers' phones from the directory snapshot of %s "
            "(%d phones) until it is",
            datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds"),
            len(self._book),
            extra={"event": "phones_from_snapshot"},
        )
        return True

    async def run(self) -> None:
        """Refresh every `refresh_seconds` until cancelled."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.refresh()
