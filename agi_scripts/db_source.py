"""The database as a DirectorySource, built for the routing hot path.

`models.directory.DbDirectorySource` answers every caller lookup through an ORM session: on
SQLite that is some eight hops to aiosqlite's thread (BEGIN, cursor, execute, fetch, close,
ROLLBACK…), on PostgreSQL BEGIN, the query and ROLLBACK as three round trips, plus the ORM's
own work: about 2 ms of CPU per call, two thirds of what routing a call costs (bench/ROUTING.md).
Here the lookup is one statement on a read-only driver connection:

- SQLite: a stdlib `sqlite3` connection opened read-only, queried in one hop to its own thread
  (the event loop never blocks on the file, so the decision budget still holds; WAL readers
  never wait for the writer);
- PostgreSQL: an asyncpg pool in autocommit, read-only sessions, the statement prepared once.

The statement is `models.directory.CONTACT_LOOKUP`, compiled to text once per source; the
directory (departments, hours, managers) is still loaded through `models.directory`, which
happens once at start-up and then every `directory_refresh_seconds`, off the hot path.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from models.db import Database, normalize_url
from models.directory import DbDirectorySource, contact_lookup_sql, contact_view
from router.directory import ContactView, Directory


class DbLookupSource:
    """A DirectorySource on `database_url`; `close()` releases its connections."""

    def __init__(self, database_url: str, pool_size: int = 4) -> None:
        self.url = normalize_url(database_url)
        self._parsed = make_url(self.url)
        self._pool_size = pool_size
        self._directory_source: DbDirectorySource | None = None
        self._directory_db: Database | None = None
        self._lookup: _SqliteLookup | _PostgresLookup | None = None

    async def load_directory(self) -> Directory:
        if self._directory_source is None:
            self._directory_db = Database(self.url)
            self._directory_source = DbDirectorySource(self._directory_db)
        return await self._directory_source.load_directory()

    def find_contact(self, phone_e164: str) -> Awaitable[ContactView | None]:
        """On SQLite a future the lookup thread completes, so the decider needs no task of its
        own to wait on it; on PostgreSQL a coroutine."""
        if self._lookup is None:
            self._lookup = self._open()
        return self._lookup.find(phone_e164)

    def _open(self) -> _SqliteLookup | _PostgresLookup:
        backend = self._parsed.get_backend_name()
        if backend == "sqlite":
            return _SqliteLookup(self._parsed.database or "", contact_lookup_sql(backend))
        if backend == "postgresql":
            url = self._parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            return _PostgresLookup(url, self._pool_size, contact_lookup_sql(backend))
        raise ValueError(f"no fast lookup for {backend!r} databases")

    async def close(self) -> None:
        if self._lookup is not None:
            await self._lookup.close()
            self._lookup = None
        if self._directory_db is not None:
            await self._directory_db.dispose()


class _SqliteLookup:
    """Lookups on one thread of their own, handed over through a SimpleQueue.

    Cheaper than run_in_executor (no concurrent.futures.Future to wrap and chain): on a VM where
    waking a thread costs ~70 µs, every saved hop and callback shows in the CPU per call.
    """

    def __init__(self, path: str, sql: str) -> None:
        self._path = path
        self._sql = sql
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="contact-lookup", daemon=True)
        self._thread.start()

    def find(self, phone: str) -> asyncio.Future[ContactView | None]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[ContactView | None] = loop.create_future()
        self._requests.put((loop, answer, phone))
        return answer

    async def close(self) -> None:
        self._requests.put(None)
        await asyncio.to_thread(self._thread.join, 5)

    def _serve(self) -> None:
        connection = None
        while (request := self._requests.get()) is not None:
            loop, answer, phone = request
            try:
                if connection is None:
                    connection = self._connect()
                row = connection.execute(self._sql, (phone,)).fetchone()
            except Exception as exc:  # handed to the caller, whose budget decides
                _hand_over(loop, answer, None, exc)
            else:
                _hand_over(loop, answer, contact_view(row), None)
        if connection is not None:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        uri = Path(self._path).resolve().as_uri() + "?mode=ro"
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
        connection.execute("PRAGMA query_only=1")
        return connection


_Request = tuple[asyncio.AbstractEventLoop, "asyncio.Future[ContactView | None]", str]


def _hand_over(
    loop: asyncio.AbstractEventLoop,
    answer: asyncio.Future[ContactView | None],
    contact: ContactView | None,
    error: Exception | None,
) -> None:
    def settle() -> None:
        if answer.done():  # the caller gave up (decision budget): nobody is waiting
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(contact)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting
        pass


async def _no_reset(_connection: Any) -> None:
    """Lookups run in autocommit and leave no state: skip asyncpg's reset round trip."""


class _PostgresLookup:
    def __init__(self, url: str, size: int, sql: str) -> None:
        self._url = url
        self._size = size
        self._sql = sql
        self._pool: Any = None
        self._opening: asyncio.Lock = asyncio.Lock()

    async def find(self, phone: str) -> ContactView | None:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self._url,
                        min_size=1,
                        max_size=self._size,
                        reset=_no_reset,
                        server_settings={
                            "default_transaction_read_only": "on",
                            "application_name": "callrouter-agi",
                        },
                    )
        return contact_view(await self._pool.fetchrow(self._sql, phone))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
