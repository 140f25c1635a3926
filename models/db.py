"""The async engine and session factory, with SQLite set up for several concurrent writers.

SQLite: WAL (readers never block the writer), a busy timeout (a writer waits for the lock
instead of failing), foreign keys on, and `BEGIN IMMEDIATE` so a transaction takes the write
lock up front — a deferred transaction that reads and then writes can fail with
"database is locked" no matter the timeout, because SQLite cannot upgrade its lock safely.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .fast_reads import FastReader

SQLITE_BUSY_TIMEOUT_MS = 10_000
READONLY_OPTION = "callrouter_readonly"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An AsyncEngine for `url` (sqlite+aiosqlite:///file or postgresql+asyncpg://…)."""
    url = normalize_url(url)
    # An error's text never carries a statement's parameters (caller numbers, names).
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def normalize_url(url: str) -> str:
    """Accept the plain scheme an administrator types and pick the async driver for it."""
    parsed = make_url(url)
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    if parsed.drivername in drivers:
        parsed = parsed.set(drivername=drivers[parsed.drivername])
    elif parsed.drivername == "postgres":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (the router's lookups) stay deferred so they never queue behind a writer.
        readonly = connection.get_execution_options().get(READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """The engine and its session factory, opened once per process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = create_engine(self.url, **engine_kwargs)
        self.sessions = session_factory(self.engine)
        self.readers = session_factory(self.engine.execution_options(**{READONLY_OPTION: True}))
        self._fast: FastReader | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only; on SQLite it does not take the write lock."""
        async with self.readers() as session:
            yield session

    @property
    def fast(self) -> FastReader:
        """Read-only statements on the driver itself (models/fast_reads.py), for the pages
        asked on every click; opened on first use, closed by `dispose()`."""
        if self._fast is None:
            self._fast = FastReader(self.url)
        return self._fast

    async def dispose(self) -> None:
        if self._fast is not None:
            await self._fast.close()
            self._fast = None
        await self.engine.dispose()
