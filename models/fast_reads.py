"""Read statements on the database's own driver, for the pages asked on every click.

Through an ORM session a statement costs SQLite some six hops to aiosqlite's thread (cursor,
execute, fetch, close, BEGIN, ROLLBACK) and the ORM's own work — ~1–2 ms of CPU for a query
SQLite answers in 0.1–0.4 ms (issue #16: the web's session check and My day, 20 users on one
event loop). Here a statement is:

- defined once, as a SQLAlchemy Core `Select` with named bind parameters, like every other
  query (the same object can still run through a session);
- compiled once per backend to text, with the order of its parameters and a decoder per column
  (timestamps come back timezone-aware UTC, as `models.base.UtcDateTime` gives them; SQLite's
  0/1 as booleans);
- run on a read-only connection of the driver: SQLite through stdlib `sqlite3` on one thread of
  its own (one hop per statement; WAL readers never wait for the writer), PostgreSQL through an
  asyncpg pool in read-only autocommit with each statement prepared once per connection. The
  connections, the URL's reading and the values' forms are `models/direct.py`'s, which the
  CLI's listings use without SQLAlchemy.

Rows are named tuples (the statement's column labels; a repeated label is renamed `_N`).
Writes never come here: they stay in `Database.transaction()`.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Boolean, Date
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select

from core.database_url import DatabaseUrl, parse_database_url

from .base import UtcDateTime
from .direct import as_utc, bound, postgres_connect_args, sqlite_connection, sqlite_value

Decoder = Callable[[Any], Any]


@dataclass(frozen=True)
class CompiledRead:
    """One statement as text for one backend: its SQL, the order its parameters are bound in,
    a decoder per column (None: as the driver gives it) and the row type."""

    sql: str
    bind_names: tuple[str, ...]
    compiled: Any  # SQLAlchemy's Compiled: the values of every parameter, literal ones too
    expanding: bool  # IN (…) of a list: the text depends on the list's length
    decoders: tuple[Decoder | None, ...]
    row: type

    def bound(self, params: Mapping[str, Any], encode: Decoder) -> tuple[str, list[Any]]:
        """The text to run and its arguments in order."""
        if self.expanding:
            state = self.compiled.construct_expanded_state(params)
            return state.statement, [encode(v) for v in state.positional_parameters]
        values = self.compiled.construct_params(params)
        return self.sql, [encode(values[name]) for name in self.bind_names]

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        decoders, make = self.decoders, self.row._make  # type: ignore[attr-defined]
        if not any(decoders):
            return [make(r) for r in raw]
        return [
            make([v if d is None or v is None else d(v) for v, d in zip(r, decoders, strict=True)])
            for r in raw
        ]


def _sqlite_bind(value: Any) -> Any:
    return sqlite_value(bound(value))


def _decoder(column_type: Any, backend: str) -> Decoder | None:
    if isinstance(column_type, UtcDateTime):
        return as_utc
    if backend != "sqlite":
        return None
    if isinstance(column_type, Boolean):
        return bool
    if isinstance(column_type, Date):
        return date.fromisoformat
    return None


def _dialect(backend: str) -> Dialect:
    if backend == "sqlite":
        from sqlalchemy.dialects.sqlite import pysqlite

        return pysqlite.dialect()
    from sqlalchemy.dialects.postgresql import asyncpg

    return asyncpg.dialect()  # type: ignore[no-untyped-call]


def compile_read(statement: Select[Any], backend: str) -> CompiledRead:
    """`statement` as text for "sqlite" (qmark) or "postgresql" (asyncpg's $n)."""
    compiled = statement.compile(dialect=_dialect(backend))
    text = str(compiled)
    names = tuple(compiled.positiontup or ())
    columns = list(statement.selected_columns)
    labels = [getattr(c, "key", None) or getattr(c, "name", None) or f"c{i}" for i, c in
              enumerate(columns)]  # fmt: skip
    return CompiledRead(
        sql=text,
        bind_names=names,
        compiled=compiled,
        expanding="__[POSTCOMPILE_" in text,
        decoders=tuple(_decoder(c.type, backend) for c in columns),
        row=namedtuple("Row", labels, rename=True),  # noqa: PYI024
    )


class FastReader:
    """Read-only statements on `url` (sqlite+aiosqlite:///… or postgresql+asyncpg://…) through
    the driver itself; `close()` releases the thread or the pool."""

    def __init__(self, url: str, *, pool_size: int = 4, name: str = "callrouter") -> None:
        self._runner = open_runner(url, pool_size=pool_size, name=name)
        self.backend = self._runner.backend
        self._compiled: dict[int, tuple[Select[Any], CompiledRead]] = {}
        self._encode = _sqlite_bind if self.backend == "sqlite" else bound
        self.listeners: list[Callable[[str], None]] = []  # each statement's SQL (tests, debug)

    def compiled(self, statement: Select[Any]) -> CompiledRead:
        """Compiled once per statement object: the callers keep their statements in modules."""
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:
            found = (statement, compile_read(statement, self.backend))
            self._compiled[id(statement)] = found
        return found[1]

    async def rows(
        self, statement: Select[Any], params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        read = self.compiled(statement)
        sql, arguments = read.bound(params or {}, self._encode)
        for listener in self.listeners:
            listener(sql)
        return await self._runner.fetch(sql, arguments, read.rows)

    async def first(self, statement: Select[Any], params: Mapping[str, Any] | None = None) -> Any:
        found = await self.rows(statement, params)
        return found[0] if found else None

    async def close(self) -> None:
        await self._runner.close()


def open_runner(url: str, *, pool_size: int, name: str) -> SqliteRunner | PostgresRunner:
    """Where statements of `url` run: a thread with a sqlite3 connection, or an asyncpg pool.
    Nothing is opened before the first statement."""
    parsed = parse_database_url(url)
    if parsed.backend == "sqlite":
        return SqliteRunner(parsed, name)
    if parsed.backend in ("postgresql", "postgres"):
        return PostgresRunner(parsed, pool_size, name)
    raise ValueError(f"no fast reads on {parsed.backend!r} databases")


T = TypeVar("T")
Convert = Callable[[list[Any]], T]
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", str, Sequence[Any], Convert[Any]]


class SqliteRunner:
    """Statements on one thread of its own, handed over through a SimpleQueue (cheaper than
    run_in_executor: no concurrent.futures.Future to wrap and chain; on a VM where waking a
    thread costs ~70 µs every saved hop shows)."""

    backend = "sqlite"

    def __init__(self, url: DatabaseUrl, name: str) -> None:
        self._url = url
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def fetch(self, sql: str, arguments: Sequence[Any], convert: Convert[T]) -> asyncio.Future[T]:
        """A future of `convert(rows)`, `convert` run on the thread: the caller needs no task
        of its own to wait on it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, answer, sql, arguments, convert))
        return answer

    async def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join, 5)
            self._thread = None

    def _serve(self) -> None:
        connection: sqlite3.Connection | None = None
        while (job := self._jobs.get()) is not None:
            loop, answer, sql, arguments, convert = job
            try:
                if connection is None:
                    connection = sqlite_connection(self._url, any_thread=True)
                result = convert(connection.execute(sql, arguments).fetchall())
            except Exception as exc:  # the caller's to handle, as a session's error would be
                _settle(loop, answer, None, exc)
            else:
                _settle(loop, answer, result, None)
        if connection is not None:
            connection.close()


def _settle(
    loop: asyncio.AbstractEventLoop,
    answer: asyncio.Future[Any],
    result: Any,
    error: Exception | None,
) -> None:
    def settle() -> None:
        if answer.done():  # the caller gave up (a budget, a cancel): nobody is waiting
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting
        pass


async def _no_reset(_connection: Any) -> None:
    """Reads run in autocommit and leave no state: skip asyncpg's reset round trip."""


class PostgresRunner:
    """An asyncpg pool in read-only autocommit; asyncpg prepares each statement once per
    connection."""

    backend = "postgresql"

    def __init__(self, url: DatabaseUrl, size: int, name: str) -> None:
        self._url = url
        self._size = size
        self._name = name
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def fetch(self, sql: str, arguments: Sequence[Any], convert: Convert[T]) -> T:
        if self._pool is None:
            await self._open()
        return convert(await self._pool.fetch(sql, *arguments))

    async def _open(self) -> None:
        async with self._opening:
            if self._pool is None:
                import asyncpg  # type: ignore[import-untyped]

                self._pool = await asyncpg.create_pool(
                    **postgres_connect_args(self._url),
                    min_size=1,
                    max_size=self._size,
                    reset=_no_reset,
                    server_settings={
                        "default_transaction_read_only": "on",
                        "application_name": self._name,
                    },
                )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
