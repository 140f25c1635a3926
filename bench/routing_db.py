"""The benchmark's database: a migrated schema, one sales department and N contacts, bulk-loaded.

Contact i (0-based) has the phone +7916 followed by i in seven digits and one of the ten
managers as its responsible manager. New callers dial from +7925…, which is never a contact.
SQLite files are cached under bench/.cache/ (reused when the same size was built before);
PostgreSQL gets its own database, created here and dropped by `drop_postgres()`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from models import migrate

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
POSTGRES_ADMIN_URL = os.environ.get(
    "CALLROUTER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
POSTGRES_DB = "callrouter_bench"
MANAGERS = 10  # ids 1..10, PJSIP/101..110; head of sales 11 (PJSIP/120), owner 12 (PJSIP/130)
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def known_phone(index: int) -> str:
    return f"+7916{index:07d}"


def new_phone(index: int) -> str:
    return f"+7925{index % 10_000_000:07d}"


def responsible_of(index: int) -> int:
    return index % MANAGERS + 1


def staff_rows() -> tuple[list[tuple], list[tuple]]:
    """(departments, managers) rows: Sales with no working hours set (always open)."""
    departments = [(1, "Sales", "Europe/Moscow")]
    managers = [
        (i, f"Manager {i}", f"PJSIP/{100 + i}", 1, "manager") for i in range(1, MANAGERS + 1)
    ]
    managers.append((MANAGERS + 1, "Head of sales", "PJSIP/120", 1, "head_of_sales"))
    managers.append((MANAGERS + 2, "Owner", "PJSIP/130", None, "owner"))
    return departments, managers


# ---- SQLite --------------------------------------------------------------------------------


def sqlite_path(contacts: int) -> Path:
    # Keyed on the schema's head revision: a file built before a migration is not reused.
    return CACHE_DIR / f"routing-{contacts}-r{migrate.head_revision()}.sqlite3"


def build_sqlite(contacts: int, *, log: bool = True) -> str:
    """The URL of a SQLite file with `contacts` contacts; built once, then reused."""
    path = sqlite_path(contacts)
    url = f"sqlite+aiosqlite:///{path}"
    if path.exists():
        return url
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.sqlite3")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(migrate.upgrade_url(f"sqlite+aiosqlite:///{partial}"))
    stamp = STAMP.strftime("%Y-%m-%d %H:%M:%S.%f")
    departments, managers = staff_rows()
    db = sqlite3.connect(partial, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO departments (id, name, timezone, created_at) VALUES (?, ?, ?, ?)",
            [(*row, stamp) for row in departments],
        )
        db.executemany(
            "INSERT INTO managers (id, name, endpoint, department_id, role, active, created_at)"
            " VALUES (?, ?, ?, ?, ?, 1, ?)",
            [(*row, stamp) for row in managers],
        )
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
            " INSERT INTO contacts (id, phone, name, responsible_manager_id, created_at,"
            " updated_at) SELECT i + 1, '+7916' || printf('%07d', i), 'Client ' || i,"
            " i % ? + 1, ?, ? FROM n",
            (contacts, MANAGERS, stamp, stamp),
        )
        db.execute("COMMIT")
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    partial.rename(path)
    if log:
        print(f"built {path.name}: {contacts} contacts in {time.perf_counter() - started:.1f} s")
    return url


# ---- PostgreSQL ----------------------------------------------------------------------------


def _pg_url(database: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _build_postgres(contacts: int, database: str) -> None:
    import asyncpg

    await _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await _pg_admin(f'CREATE DATABASE "{database}"')
    await migrate.upgrade_url(_pg_url(database))
    departments, managers = staff_rows()
    conn = await asyncpg.connect(_pg_url(database))
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO departments (id, name, timezone, created_at) VALUES ($1, $2, $3, $4)",
                [(*row, STAMP) for row in departments],
            )
            await conn.executemany(
                "INSERT INTO managers (id, name, endpoint, department_id, role, active,"
                " created_at) VALUES ($1, $2, $3, $4, $5, true, $6)",
                [(*row, STAMP) for row in managers],
            )
            chunk = 200_000
            for start in range(0, contacts, chunk):
                records = [
                    (i + 1, known_phone(i), f"Client {i}", responsible_of(i), STAMP, STAMP)
                    for i in range(start, min(start + chunk, contacts))
                ]
                await conn.copy_records_to_table(
                    "contacts",
                    records=records,
                    columns=[
                        "id",
                        "phone",
                        "name",
                        "responsible_manager_id",
                        "created_at",
                        "updated_at",
                    ],
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def build_postgres(contacts: int, database: str = POSTGRES_DB, *, log: bool = True) -> str:
    """Create `database` with `contacts` contacts (dropping an old one); its URL."""
    started = time.perf_counter()
    asyncio.run(_build_postgres(contacts, database))
    if log:
        print(f"built {database}: {contacts} contacts in {time.perf_counter() - started:.1f} s")
    return _pg_url(database)


def drop_postgres(database: str = POSTGRES_DB) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def build(db: str, contacts: int, *, database: str = POSTGRES_DB, log: bool = True) -> str:
    if db == "sqlite":
        return build_sqlite(contacts, log=log)
    if db == "postgresql":
        return build_postgres(contacts, database, log=log)
    raise ValueError(f"unknown database {db!r}: sqlite or postgresql")
