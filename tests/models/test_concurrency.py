"""Two writers at once (say the AMI listener and an administrator's CLI) must both succeed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from models.db import Database
from models.tables import Contact


async def _writer(db: Database, prefix: int, count: int) -> None:
    for i in range(count):
        # Read, then write in the same transaction: the pattern that deadlocks deferred SQLite
        # transactions ("database is locked") when two connections upgrade their locks at once.
        async with db.transaction() as s:
            existing = await s.scalar(select(func.count()).select_from(Contact))
            s.add(Contact(phone=f"+7916{prefix}{i:06d}", name=f"writer {prefix} #{existing}"))


async def test_two_concurrent_writers_do_not_fail(db_url: str) -> None:
    first, second = Database(db_url), Database(db_url)
    try:
        await asyncio.gather(_writer(first, 1, 60), _writer(second, 2, 60))
        async with first.reader() as s:
            assert await s.scalar(select(func.count()).select_from(Contact)) == 120
    finally:
        await first.dispose()
        await second.dispose()


async def test_sqlite_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() >= 5000
    await db.dispose()
