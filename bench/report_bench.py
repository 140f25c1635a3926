"""How long the owner waits: the daily report and a 30-day per-manager query over many calls.

    .venv/bin/python -m bench.report_bench --calls 1000000 --db sqlite
    .venv/bin/python -m bench.report_bench --calls 1000000 --db postgresql
    .venv/bin/python -m bench.report_bench --calls 2000 --url sqlite+aiosqlite:///x.sqlite3

A fresh, migrated database (a temporary SQLite file, or a new PostgreSQL database next to
$CALLROUTER_BENCH_POSTGRES_URL, dropped afterwards) is filled with a seeded year of traffic
by bulk loading (sqlite3 executemany; asyncpg COPY), then the report code runs unchanged:
`build_daily` + the text and HTML renderers, and `build_stats(..., by="manager")` for 30 days.
Each is timed cold (first run) and best of `--repeat`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy.engine import make_url

from callrouter.reports import render_html, render_text
from callrouter.reports.daily import build_daily
from callrouter.reports.stats import build_stats
from core.settings import Settings
from models import migrate
from models.db import Database, is_sqlite

TZ = ZoneInfo("Europe/Moscow")
REPORT_DAY = date(2026, 11, 20)
PG_ADMIN_URL = os.environ.get(
    "CALLROUTER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MANAGERS = 20
NUMBERS = 100_000


@dataclass(frozen=True)
class Data:
    departments: list[tuple]
    managers: list[tuple]
    contacts: list[tuple]
    deals: list[tuple]
    tasks: list[tuple]
    calls: list[tuple]
    legs: list[tuple]


CALL_COLUMNS = (
    "id system linkedid direction external_number started_at answered_at ended_at ring_seconds "
    "talk_seconds disposition missed abandoned abandon_seconds after_hours manager_id "
    "answered_by_manager_id variables contact_id recovered_at recorded_at"
).split()
LEG_COLUMNS = ["id", "call_id", "endpoint", "manager_id", "ring_seconds", "answered"]
TABLES = {
    "departments": ["id", "name", "timezone", "created_at"],
    "managers": ["id", "name", "endpoint", "department_id", "role", "active", "created_at"],
    "contacts": ["id", "phone", "responsible_manager_id", "created_at", "updated_at"],
    "deals": ["id", "contact_id", "status", "source", "created_at", "updated_at"],
    "tasks": "id deal_id contact_id responsible_manager_id due_at type comment status purpose "
    "created_by missed_calls created_at closed_at".split(),
    "calls": CALL_COLUMNS,
    "call_legs": LEG_COLUMNS,
}


def generate(calls: int, days: int, seed: int = 20261120) -> Data:
    """A seeded year of a sales department's calls ending on REPORT_DAY (Moscow)."""
    rnd = random.Random(seed)
    numbers = max(100, min(NUMBERS, calls // 10))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    departments = [(1, "Продажи", "Europe/Moscow", t0), (2, "Опт", "Europe/Moscow", t0)]
    managers = [
        (i, f"Manager {i}", f"PJSIP/{100 + i}", 1 if i <= 14 else 2, "manager", i != 7, t0)
        for i in range(1, MANAGERS + 1)
    ]
    managers += [
        (MANAGERS + 1, "Head", "PJSIP/190", 1, "head_of_sales", True, t0),
        (MANAGERS + 2, "Owner", "PJSIP/200", None, "owner", True, t0),
    ]
    contacts = [
        (c, f"+79{c:09d}", rnd.randint(1, MANAGERS) if c % 3 else None, t0, t0)
        for c in range(1, numbers + 1)
    ]
    first_day = REPORT_DAY - timedelta(days=days - 1)
    now = datetime.combine(REPORT_DAY + timedelta(1), datetime.min.time(), TZ) + timedelta(hours=1)
    per_day = calls / days
    rows, legs = [], []
    missed_by_contact: dict[int, datetime] = {}
    for i in range(1, calls + 1):
        day = first_day + timedelta(days=min(int((i - 1) / per_day), days - 1))
        hour = rnd.choices(range(24), weights=[1] * 8 + [10] * 11 + [1] * 5)[0]
        local = datetime.combine(day, datetime.min.time(), TZ) + timedelta(
            hours=hour, seconds=rnd.uniform(0, 3599)
        )
        start = local.astimezone(UTC)
        after_hours = hour < 9 or hour >= 19
        contact = rnd.randint(1, numbers)
        manager = rnd.randint(1, MANAGERS)
        if rnd.random() < 0.4:  # outbound
            answered = rnd.random() < 0.7
            ring, talk = rnd.uniform(3, 25), rnd.expovariate(1 / 150) if answered else 0.0
            rows.append(
                _call(
                    i,
                    "outbound",
                    contact,
                    start,
                    ring,
                    talk,
                    answered,
                    None,
                    False,
                    manager,
                    None,
                    None,
                )
            )
            continue
        missed = rnd.random() < (0.6 if after_hours else 0.1)
        abandon = rnd.uniform(1, 40) if missed and rnd.random() < 0.8 else None
        ring = abandon or rnd.uniform(2, 40)
        talk = 0.0 if missed else rnd.expovariate(1 / 200)
        recovered = None
        if missed:
            gap = timedelta(seconds=rnd.expovariate(1 / 7200))
            if rnd.random() < 0.75 and start + gap < now:
                recovered = start + timedelta(seconds=ring) + gap
            else:
                missed_by_contact[contact] = start
        rung = rnd.sample(range(1, MANAGERS + 1), k=rnd.choice((1, 2, 3)))
        answerer = None if missed else rung[-1]
        for who in rung:
            legs.append((len(legs) + 1, i, f"PJSIP/{100 + who}", who, ring, who == answerer))
        rows.append(
            _call(
                i,
                "inbound",
                contact,
                start,
                ring,
                talk,
                not missed,
                abandon,
                after_hours,
                answerer,
                recovered,
                contact,
            )
        )
    deals, tasks = [], []
    for contact, missed_at in list(missed_by_contact.items())[: calls // 100 + 1]:
        n = len(deals) + 1
        deals.append((n, contact, "new", "missed_call", missed_at, missed_at))
        due = missed_at + timedelta(minutes=15)
        tasks.append(
            (
                n,
                n,
                contact,
                rnd.randint(1, MANAGERS),
                due,
                "call",
                "Call back",
                "open",
                "callback",
                "listener",
                1,
                missed_at,
                None,
            )
        )
    return Data(departments, managers, contacts, deals, tasks, rows, legs)


def _call(
    i,
    direction,
    contact,
    start,
    ring,
    talk,
    answered,
    abandon,
    after_hours,
    manager,
    recovered,
    contact_id,
):  # type: ignore[no-untyped-def]
    answered_at = start + timedelta(seconds=ring) if answered else None
    end = start + timedelta(seconds=ring + talk)
    return (
        i,
        "pbx1",
        f"b{i}",
        direction,
        f"+79{contact:09d}",
        start,
        answered_at,
        end,
        ring,
        talk,
        "ANSWERED" if answered else "NO ANSWER",
        direction == "inbound" and not answered,
        abandon is not None,
        abandon,
        after_hours,
        manager,
        manager if direction == "inbound" else None,
        "{}",
        contact_id,
        recovered,
        end,
    )


# --- loading -------------------------------------------------------------------------------


def load_sqlite(path: str, data: Data) -> None:
    """executemany through the stdlib driver, values in SQLAlchemy's SQLite storage format."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-500000")  # 500 MB: index pages stay in memory
        for table, columns in TABLES.items():
            rows = _rows(data, table)
            marks = ", ".join("?" for _ in columns)
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                (tuple(_sqlite_value(v) for v in row) for row in rows),
            )
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


def _sqlite_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def load_postgresql(url: str, data: Data) -> None:
    """COPY per table, then move the id sequences past the loaded rows and ANALYZE."""
    conn = await asyncpg.connect(_plain(url))
    try:
        for table, columns in TABLES.items():
            await conn.copy_records_to_table(table, records=_rows(data, table), columns=columns)
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 1))"
            )
        await conn.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk insert
    finally:
        await conn.close()


def _rows(data: Data, table: str) -> list[tuple]:
    return {
        "departments": data.departments,
        "managers": data.managers,
        "contacts": data.contacts,
        "deals": data.deals,
        "tasks": data.tasks,
        "calls": data.calls,
        "call_legs": data.legs,
    }[table]


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- timing --------------------------------------------------------------------------------


async def timed(repeat: int, fn) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await fn()
        runs.append(time.perf_counter() - started)
    return runs[0], min(runs), result


async def measure(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    settings = Settings(database_url=url, timezone=str(TZ))
    now = datetime.combine(REPORT_DAY + timedelta(1), datetime.min.time(), TZ) + timedelta(hours=1)
    db = Database(url)
    try:

        async def daily():  # type: ignore[no-untyped-def]
            report = await build_daily(db, REPORT_DAY, now, settings)
            render_text.render_daily(report)
            render_html.render_daily(report)
            return report

        async def thirty_days():  # type: ignore[no-untyped-def]
            first = REPORT_DAY - timedelta(days=29)
            return await build_stats(db, first, REPORT_DAY, "manager", now, settings)

        d_first, d_best, report = await timed(repeat, daily)
        s_first, s_best, table = await timed(repeat, thirty_days)
    finally:
        await db.dispose()
    print(
        f"  report day {REPORT_DAY}: {report.calls.calls} calls, "  # type: ignore[attr-defined]
        f"LCR {report.inbound.lcr or 0:.1%}; 30 days: "  # type: ignore[attr-defined]
        f"{table.total.calls.calls} calls, {len(table.rows)} rows"  # type: ignore[attr-defined]
    )
    return {"daily report": (d_first, d_best), "30-day per-manager": (s_first, s_best)}


# --- databases -----------------------------------------------------------------------------


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(_plain(PG_ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new migrated-to-be database of `kind`, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="callrouter-bench-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    name = f"callrouter_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(_plain(PG_ADMIN_URL)).set(database=name).render_as_string(False)
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(url: str, calls: int, days: int, repeat: int, migrated: bool) -> dict[str, float]:
    """Fill the database at `url` and time the report; returns the figures printed."""
    if not migrated:
        asyncio.run(migrate.upgrade_url(url))
    started = time.perf_counter()
    data = generate(calls, days)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    if is_sqlite(url):
        load_sqlite(make_url(url).database or "", data)
    else:
        asyncio.run(load_postgresql(url, data))
    loaded = time.perf_counter() - started
    backend = "sqlite" if is_sqlite(url) else "postgresql"
    print(
        f"{backend}: {calls} calls, {len(data.legs)} legs over {days} days; generated in "
        f"{generated:.1f} s, bulk-loaded in {loaded:.1f} s"
    )
    timings = asyncio.run(measure(url, repeat))
    for name, (first, best) in timings.items():
        print(f"  {name:<20} first {first:6.3f} s   best of {repeat} {best:6.3f} s")
    return {name: best for name, (_, best) in timings.items()} | {"load": loaded}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m bench.report_bench", description=__doc__)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", default=None, help="An existing, migrated, empty database.")
    parser.add_argument(
        "--days", type=int, default=365, help="Spread the calls over this many days."
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    days = max(1, min(args.days, args.calls))
    if args.url:
        return run(args.url, args.calls, days, args.repeat, migrated=True)
    with fresh_database(args.db) as url:
        return run(url, args.calls, days, args.repeat, migrated=False)


if __name__ == "__main__":
    main()
    sys.exit(0)
