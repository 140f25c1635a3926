"""The database as a DirectorySource, built for the routing hot path.

`models.directory.DbDirectorySource` answers every caller lookup through an ORM session: on
SQLite that is some eight hops to aiosqlite's thread (BEGIN, cursor, execute, fetch, close,
ROLLBACK…), on PostgreSQL BEGIN, the query and ROLLBACK as three round trips, plus the ORM's
own work: about 2 ms of CPU per call, two thirds of what routing a call costs (bench/ROUTING.md).
Here the lookup is one statement on a read-only driver connection (`models/fast_reads.py`'s
runners, which the web's busiest pages use too):

- SQLite: a stdlib `sqlite3` connection that never writes, queried in one hop to its own thread
  (the event loop never blocks on the file, so the decision budget still holds; WAL readers
  never wait for the writer);
- PostgreSQL: an asyncpg pool in autocommit, read-only sessions, the statement prepared once.

The statement is `models.directory.CONTACT_LOOKUP`, compiled to text once per source; the
directory (departments, hours, managers) is still loaded through `models.directory`, which
happens once at start-up and then every `directory_refresh_seconds`, off the hot path.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from sqlalchemy.engine import make_url

from models.db import Database, normalize_url
from models.directory import DbDirectorySource, contact_lookup_sql, contact_view
from models.fast_reads import PostgresRunner, SqliteRunner, open_runner
from router.directory import ContactView, Directory


class DbLookupSource:
    """A DirectorySource on `database_url`; `close()` releases its connections."""

    def __init__(self, database_url: str, pool_size: int = 4) -> None:
        self.url = normalize_url(database_url)
        self._backend = make_url(self.url).get_backend_name()
        self._pool_size = pool_size
        self._directory_source: DbDirectorySource | None = None
        self._directory_db: Database | None = None
        self._lookup: SqliteRunner | PostgresRunner | None = None
        self._sql = ""

    async def load_directory(self) -> Directory:
        if self._directory_source is None:
            self._directory_db = Database(self.url)
            self._directory_source = DbDirectorySource(self._directory_db)
        return await self._directory_source.load_directory()

    def find_contact(self, phone_e164: str) -> Awaitable[ContactView | None]:
        """On SQLite a future the lookup thread completes, so the decider needs no task of its
        own to wait on it; on PostgreSQL a coroutine."""
        if self._lookup is None:
            self._sql = contact_lookup_sql(self._backend)
            self._lookup = open_runner(self.url, pool_size=self._pool_size, name="contact-lookup")
        return self._lookup.fetch(self._sql, (phone_e164,), _first_contact)

    async def close(self) -> None:
        if self._lookup is not None:
            await self._lookup.close()
            self._lookup = None
        if self._directory_db is not None:
            await self._directory_db.dispose()


def _first_contact(rows: list[Any]) -> ContactView | None:
    return contact_view(rows[0] if rows else None)
