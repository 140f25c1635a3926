"""How the AGI side reads the company and its clients: one small protocol, implemented elsewhere.

`models.directory.DbDirectorySource(session_factory)` is the database-backed implementation;
`agi_scripts.file_source.FileDirectorySource` reads a JSON snapshot (tests, `route explain`).
The executor never talks to a database directly: it goes through `decision.RouteDecider`, which
wraps a `DirectorySource` with the decision time budget and the last directory it loaded.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

from router.directory import ContactView, Directory


@runtime_checkable
class DirectorySource(Protocol):
    """Read access to the directory and to contacts; both calls may be slow, fail, or hang."""

    async def load_directory(self) -> Directory:
        """Everyone who can be rung, as one consistent snapshot."""
        ...

    def find_contact(self, phone_e164: str) -> Awaitable[ContactView | None]:
        """The contact whose phone is `phone_e164` (E.164, '+79161234567'), or None if unknown.
        An `async def` does; so does a plain method that returns a future it will complete."""
        ...
