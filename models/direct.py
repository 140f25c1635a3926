"""Reading the database straight through its driver, without SQLAlchemy: the CLI's listings.

A listing runs once and exits, so what it costs is mostly imports: SQLAlchemy with the ORM and
the tables is some 370 ms of CPU before the first row (issue #17). Here:

- SQLite: the stdlib `sqlite3`, the file opened with `mode=rw` (never created: a missing file
  is `NotInitialised`) and `PRAGMA query_only`, so nothing can be written. Not `mode=ro`: a
  read-only connection cannot clean up, and on a quiet database it would leave the `-wal` and
  `-shm` files behind that the last read-write connection removes on closing;
- PostgreSQL: `asyncpg` on a private event loop, the session read-only, connected with the
  arguments SQLAlchemy's asyncpg dialect would give (the URL's parts and its query).

`open_reader(url)` checks that `db upgrade` has run (Alembic's table holds a revision) and gives
a `Reader` whose one method is `fetch(sql, params)`. The SQL names its parameters `:name`
(numbered `$n` for asyncpg); datetimes are bound and read as `models.base.UtcDateTime` stores
them — on SQLite naive UTC text in SQLAlchemy's format, so `due_at < :now` compares as the ORM's
statement does — and the columns named in `times` come back timezone-aware UTC on both, those
named in `flags` as bool (SQLite keeps neither type: the query says which columns are which). Failing to reach or read the database raises `DatabaseUnavailable`, worded as
the ORM's commands word it.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.database_url import DatabaseUrl, parse_database_url
from models.errors import InputError

NOT_INITIALISED = "the database is not initialised: run `callrouter db upgrade`"
SQLITE_BUSY_TIMEOUT_S = 10  # as models/db.py's engine waits for a lock
# The server cannot be reached: refused, unknown host, timed out.
UNREACHABLE: tuple[type[Exception], ...] = (ConnectionError, socket.gaierror, TimeoutError)
# SQLAlchemy's own options among an asyncpg URL's query, not asyncpg's.
_SQLALCHEMY_OPTIONS = frozenset({"prepared_statement_cache_size", "async_fallback"})
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

Row = dict[str, Any]


class NotInitialised(InputError):
    """The database has no schema yet (`callrouter db upgrade` has not run)."""

    def __init__(self) -> None:
        super().__init__(NOT_INITIALISED)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or read; the message is one line with the cause."""


def unavailable(exc: BaseException) -> DatabaseUnavailable:
    """'database unavailable: Connection refused' — the cause in one line (an OS error by its
    errno's text, a driver's error by its message)."""
    errno = exc.errno if isinstance(exc, OSError) else None
    reason = os.strerror(errno) if errno else str(exc) or type(exc).__name__
    return DatabaseUnavailable(f"database unavailable: {reason}".splitlines()[0])


class Reader:
    """Read-only queries on one connection."""

    backend: str

    def __init__(self, url: DatabaseUrl) -> None:
        """Connect to the database `url` names (each backend its own way)."""
        raise NotImplementedError

    def fetch(
        self,
        sql: str,
        params: Mapping[str, object] | None = None,
        *,
        times: Collection[str] = (),
        flags: Collection[str] = (),
    ) -> list[Row]:
        """Every row of `sql` as a dict by column name; the `times` columns (UtcDateTime) as
        aware UTC datetimes, the `flags` columns (Boolean) as bool."""
        rows = self._execute(sql, {k: bound(v) for k, v in (params or {}).items()})
        for row in rows:
            for name in times:
                if row[name] is not None:
                    row[name] = as_utc(row[name])
            for name in flags:
                if row[name] is not None:
                    row[name] = bool(row[name])
        return rows

    def close(self) -> None:
        raise NotImplementedError

    @staticmethod
    def driver_errors() -> tuple[type[Exception], ...]:
        """The driver's errors: the database cannot be read (locked, not a database, gone)."""
        raise NotImplementedError

    def _execute(self, sql: str, params: dict[str, object]) -> list[Row]:
        raise NotImplementedError

    def _initialised(self) -> bool:
        raise NotImplementedError


@contextmanager
def open_reader(url: str) -> Iterator[Reader]:
    """A reader on the database at `url` (any spelling the settings accept), closed after.

    NotInitialised before `db upgrade`; DatabaseUnavailable when it cannot be reached or read."""
    parsed = parse_database_url(url)
    kind = _reader_for(parsed)
    reader: Reader | None = None
    try:
        reader = kind(parsed)
        if not reader._initialised():
            raise NotInitialised
        yield reader
    except UNREACHABLE as exc:
        raise unavailable(exc) from None
    except kind.driver_errors() as exc:
        raise unavailable(exc) from None
    finally:
        if reader is not None:
            reader.close()


def _reader_for(url: DatabaseUrl) -> type[Reader]:
    if url.backend == "sqlite":
        return _SqliteReader
    if url.backend in ("postgresql", "postgres"):
        return _PostgresReader
    raise ValueError(f"no direct reader for {url.backend!r} databases")


def sqlite_connection(url: DatabaseUrl, *, any_thread: bool = False) -> sqlite3.Connection:
    """A sqlite3 connection that never writes and never creates the file (NotInitialised when
    there is none); autocommit, waiting for a lock as the engine does. `any_thread`: used from
    a thread other than the one that opened it."""
    name = url.database or ""
    if url.query.get("uri") == "true":  # the administrator's own URI, opened as written
        target = name
    elif name in ("", ":memory:") or not Path(name).exists():
        raise NotInitialised  # an empty database in memory, or no file (never created)
    else:
        target = Path(name).resolve().as_uri() + "?mode=rw"
    connection = sqlite3.connect(
        target,
        uri=True,
        isolation_level=None,
        timeout=SQLITE_BUSY_TIMEOUT_S,
        check_same_thread=not any_thread,
    )
    connection.execute("PRAGMA query_only=1")
    return connection


class _SqliteReader(Reader):
    backend = "sqlite"

    @staticmethod
    def driver_errors() -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def __init__(self, url: DatabaseUrl) -> None:
        self._connection = sqlite_connection(url)

    def _execute(self, sql: str, params: dict[str, object]) -> list[Row]:
        cursor = self._connection.execute(sql, {k: sqlite_value(v) for k, v in params.items()})
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def _initialised(self) -> bool:
        tables = self._execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'", {}
        )
        return bool(tables) and bool(self._execute("SELECT version_num FROM alembic_version", {}))

    def close(self) -> None:
        self._connection.close()


class _PostgresReader(Reader):
    backend = "postgresql"

    @staticmethod
    def driver_errors() -> tuple[type[Exception], ...]:
        import asyncpg

        return (asyncpg.PostgresError, asyncpg.InterfaceError)

    def __init__(self, url: DatabaseUrl) -> None:
        import asyncio

        import asyncpg

        self._runner = asyncio.Runner()
        try:
            self._connection = self._runner.run(
                asyncpg.connect(
                    **postgres_connect_args(url),
                    server_settings={"default_transaction_read_only": "on"},
                )
            )
        except BaseException:
            self._runner.close()
            raise

    def _execute(self, sql: str, params: dict[str, object]) -> list[Row]:
        text, names = numbered(sql)
        records = self._runner.run(self._connection.fetch(text, *(params[n] for n in names)))
        return [dict(record.items()) for record in records]

    def _initialised(self) -> bool:
        table = self._execute("SELECT to_regclass('alembic_version') IS NOT NULL AS found", {})
        return bool(table[0]["found"]) and bool(
            self._execute("SELECT version_num FROM alembic_version", {})
        )

    def close(self) -> None:
        try:
            self._runner.run(self._connection.close())
        finally:
            self._runner.close()


def postgres_connect_args(url: DatabaseUrl) -> dict[str, Any]:
    """asyncpg.connect's arguments, as SQLAlchemy's asyncpg dialect makes them: the URL's
    parts, then its query (`?ssl=require`, `?host=/run/postgresql`) over them."""
    args: dict[str, Any] = {
        key: value
        for key, value in (
            ("user", url.username),
            ("password", url.password),
            ("host", url.host),
            ("port", url.port),
            ("database", url.database),
        )
        if value is not None
    }
    args.update((k, v) for k, v in url.query.items() if k not in _SQLALCHEMY_OPTIONS)
    return args


def numbered(sql: str) -> tuple[str, list[str]]:
    """':name' parameters as asyncpg's '$1', '$2' (a name used twice keeps its number), and
    the names in number order. A '::type' cast is left alone."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAMETER.sub(number, sql), names


def bound(value: object) -> object:
    """A parameter as the database is given it: datetimes aware UTC (naive ones refused)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        return value.astimezone(UTC)
    return value


def sqlite_value(value: object) -> object:
    """A datetime (`bound` first) as SQLAlchemy's SQLite DateTime writes it: naive UTC text,
    microseconds always, so comparisons with stored times hold."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def as_utc(value: object) -> datetime:
    """SQLite's text or asyncpg's timestamptz as an aware UTC datetime (UtcDateTime's result)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
