"""Fixtures for the fault tests: a database that can really go away, on either backend."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from models import migrate

from .support import PrivatePostgres, SqliteLock


@dataclass
class Outage:
    """A database of the backend under test and a way to make it disappear and come back."""

    url: str
    backend: str
    sqlite_path: Path | None = None
    postgres: PrivatePostgres | None = None
    _lock: SqliteLock | None = None

    async def begin(self) -> None:
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)
        else:
            assert self.sqlite_path is not None
            self._lock = SqliteLock(self.sqlite_path)
            await self._lock.acquire()

    async def end(self) -> None:
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.start)
        elif self._lock is not None:
            await self._lock.release()
            self._lock = None


async def _create_from_template(pg: PrivatePostgres, name: str, template: str | None) -> None:
    conn = await asyncpg.connect(pg.admin_url())
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[tuple[PrivatePostgres, str]]:
    """A PostgreSQL cluster of the tests' own, with a migrated template database."""
    pg = PrivatePostgres()
    try:
        pg.start()
        asyncio.run(_create_from_template(pg, "callrouter_tpl", None))
        asyncio.run(migrate.upgrade_url(pg.url("callrouter_tpl")))
        yield pg, "callrouter_tpl"
    finally:
        pg.destroy()


@pytest.fixture
def outage(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if db_backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "callrouter.sqlite3"
        shutil.copyfile(template, path)
        yield Outage(f"sqlite+aiosqlite:///{path}", db_backend, sqlite_path=path)
        return
    pg, template = request.getfixturevalue("private_postgres")
    name = f"callrouter_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_from_template(pg, name, template))
    outage = Outage(pg.url(name), db_backend, postgres=pg)
    try:
        yield outage
    finally:
        if not (pg.data / "postmaster.pid").exists():
            pg.start()  # a failed test must not leave the cluster down for the next one
