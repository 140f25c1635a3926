"""The listener's knowledge of which endpoints are managers' phones, kept from the directory.

`DirectoryPhones` is the `phones` source `AmiListener` asks as it assembles each call: a
snapshot swapped in whole, refreshed every `routing.directory_refresh_seconds` and on SIGHUP.
Every manager's phone counts, active or not: an inactive manager's phone is still the office's.
Until a directory was loaded once (the database was away at start) it gives None, and the
listener tells trunks from phones by their names (`ami.trunk_endpoints`,
`ami.internal_max_digits`); that is logged once. A failed refresh keeps the last snapshot.
"""

from __future__ import annotations

import asyncio
import logging

from core.phonebook import PhoneBook
from models.db import Database
from models.directory import load_directory

log = logging.getLogger(__name__)


class DirectoryPhones:
    """The current `PhoneBook` (None until one loaded); call it for the snapshot."""

    def __init__(self, db: Database, refresh_seconds: float = 30.0) -> None:
        self._db = db
        self.refresh_seconds = refresh_seconds
        self._book: PhoneBook | None = None
        self._said_fallback = False

    def __call__(self) -> PhoneBook | None:
        return self._book

    async def refresh(self) -> bool:
        """Load the directory's phones now; False (the last snapshot kept) when it fails."""
        try:
            async with self._db.reader() as session:
                directory = await load_directory(session)
        except Exception as exc:
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
        first = self._book is None
        self._book = PhoneBook.of_directory(directory)
        if first and self._said_fallback:
            log.info(
                "directory loaded: %d phones known, endpoint names no longer decide",
                len(self._book),
                extra={"event": "phones_from_directory"},
            )
        return True

    async def run(self) -> None:
        """Refresh every `refresh_seconds` until cancelled."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            await self.refresh()
