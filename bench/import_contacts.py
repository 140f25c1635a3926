"""`contacts import` of a large client list, beside a raw `executemany` floor.

    .venv/bin/python -m bench.import_contacts --contacts 100000 --db sqlite,postgresql
    .venv/bin/python -m bench.import_contacts --contacts 2000 --db sqlite --repeat 1   # smoke

For each database, a fresh migrated one (a temporary SQLite file, or a new PostgreSQL database
beside $CALLROUTER_BENCH_POSTGRES_URL, dropped afterwards) with two managers. The client list is
a seeded CSV in a Russian Excel export's shape (`;`, Windows-1251, numbers spelled "8 (916)
123-45-67", a third of the rows with a responsible manager, 1 % bad rows). Timed, best of
`--repeat`, each on an emptied contacts table:

- **floor**: the already-normalised rows through the driver's own `executemany` (stdlib
  sqlite3 / asyncpg) in one transaction — the database's speed, no parsing;
- **parse only**: reading the CSV and normalising every number (libphonenumber), no database;
- **import**: `crm.contact_import.import_csv` in one transaction, as the command runs it;
- **command**: `callrouter contacts import FILE` end to end in a new process (start-up,
  decoding, settings, the import, the report).

Each figure is printed with its CPU time (this process's and the command's; not the PostgreSQL
server's), which a busy machine inflates far less than the wall-clock time.

Target (issue #17): 100,000 contacts in ≤ 10 s on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from bench.report_bench import _plain, fresh_database
from core.phones import normalize_phone
from crm import contact_import
from models import migrate
from models.db import Database, is_sqlite
from models.tables import Contact, Department, Manager

REPO = Path(__file__).resolve().parents[1]
FIRST = ["Иван", "Ольга", "Пётр", "Мария", "Алексей", "Наталья", "Сергей", "Елена"]
LAST = ["Петров", "Смирнова", "Ёлкин", "Иванова", "Кузнецов", "Попова", "Соколов", "Орлова"]


def client_list(count: int, seed: int = 17) -> tuple[str, list[tuple[str, str]]]:
    """(the CSV text, the good rows as (E.164, name)) — distinct numbers, 1 % bad rows."""
    rng = random.Random(seed)
    lines = ["Телефон;ФИО;Ответственный"]
    good: list[tuple[str, str]] = []
    numbers = rng.sample(range(10_000_000), count)
    for n, tail in enumerate(numbers):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if n % 100 == 99:
            lines.append(f"8 (916) {tail % 1000:03d};{name};")  # too short: rejected
            continue
        digits = f"{tail:07d}"
        who = ("101", "102", "")[n % 3]
        lines.append(f"8 (916) {digits[:3]}-{digits[3:5]}-{digits[5:]};{name};{who}")
        good.append((f"+7916{digits}", name))
    return "\r\n".join(lines) + "\r\n", good


async def _prepare(url: str) -> None:
    await migrate.upgrade_url(url)
    db = Database(url)
    try:
        async with db.transaction() as s:
            department = Department(name="Продажи")
            s.add(department)
            await s.flush()
            for ext, name in (("101", "Анна"), ("102", "Борис")):
                s.add(Manager(name=name, endpoint=f"PJSIP/{ext}", department_id=department.id))
    finally:
        await db.dispose()


async def _empty(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as s:
            await s.execute(delete(Contact))
    finally:
        await db.dispose()


def floor_sqlite(url: str, rows: list[tuple[str, str]]) -> None:
    now = datetime.now(UTC).isoformat(sep=" ")
    connection = sqlite3.connect(make_url(url).database or "")
    try:
        with connection:
            connection.executemany(
                "INSERT INTO contacts (phone, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [(phone, name, now, now) for phone, name in rows],
            )
    finally:
        connection.close()


async def floor_postgresql(url: str, rows: list[tuple[str, str]]) -> None:
    now = datetime.now(UTC)
    connection = await asyncpg.connect(_plain(url))
    try:
        async with connection.transaction():
            await connection.executemany(
                "INSERT INTO contacts (phone, name, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4)",
                [(phone, name, now, now) for phone, name in rows],
            )
    finally:
        await connection.close()


def parse_only(text: str) -> int:
    count = 0
    for _, row in contact_import.read_rows(text):
        try:
            normalize_phone(row.get("phone", ""), "RU")
            count += 1
        except ValueError:
            pass
    return count


async def import_in_process(url: str, text: str) -> contact_import.ImportReport:
    db = Database(url)
    try:
        async with db.transaction() as s:
            return await contact_import.import_csv(s, text, region="RU")
    finally:
        await db.dispose()


def command(url: str, path: Path) -> str:
    env = dict(os.environ, CALLROUTER_DATABASE_URL=url, CALLROUTER_ENDPOINT_TECHNOLOGY="PJSIP")
    env.pop("CALLROUTER_CONFIG", None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("callrouter")), "contacts", "import", str(path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.strip()


def cpu_seconds() -> float:
    """CPU time of this process and of the processes it has waited for (the command's; the
    PostgreSQL server's is not counted): the figure a busy machine does not inflate much."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def best(repeat: int, before: Callable[[], None], fn: Callable[[], object]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds: the best of `repeat` runs of each."""
    runs, used = [], []
    for _ in range(repeat):
        before()
        started, started_cpu = time.perf_counter(), cpu_seconds()
        fn()
        runs.append(time.perf_counter() - started)
        used.append(cpu_seconds() - started_cpu)
    return min(runs), min(used)


def run(kind: str, count: int, repeat: int) -> dict[str, float]:
    text, good = client_list(count)
    with (
        fresh_database(kind) as url,
        tempfile.TemporaryDirectory(prefix="callrouter-import-") as folder,
    ):
        asyncio.run(_prepare(url))
        path = Path(folder) / "clients.csv"
        path.write_bytes(text.encode("cp1251"))

        def empty() -> None:
            asyncio.run(_empty(url))

        def sync(coro: Callable[[], Awaitable[object]]) -> Callable[[], object]:
            return lambda: asyncio.run(coro())  # type: ignore[arg-type]

        floor: Callable[[], object] = (
            (lambda: floor_sqlite(url, good))
            if is_sqlite(url)
            else sync(lambda: floor_postgresql(url, good))
        )
        figures: dict[str, float] = {}
        cpu: dict[str, float] = {}

        def timed(name: str, before: Callable[[], None], fn: Callable[[], object]) -> None:
            figures[name], cpu[name] = best(repeat, before, fn)

        timed("floor: driver executemany", empty, floor)
        timed("parse only (no database)", lambda: None, lambda: parse_only(text))
        reports: list[object] = []
        timed(
            "import_csv, one transaction",
            empty,
            lambda: reports.append(asyncio.run(import_in_process(url, text))),
        )
        said: list[str] = []
        timed("`callrouter contacts import`", empty, lambda: said.append(command(url, path)))
    report = reports[-1]
    assert isinstance(report, contact_import.ImportReport)
    assert report.added == len(good), (report.added, len(good))
    print(f"{kind}: {count} rows ({len(good)} good, {count - len(good)} bad); {said[-1]}")
    for name, seconds in figures.items():
        print(
            f"  {name:<32} {seconds:7.2f} s   {count / seconds:>9,.0f} rows/s"
            f"   CPU {cpu[name]:6.2f} s"
        )
    return figures


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m bench.import_contacts", description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}, best of {args.repeat}")
    return {
        kind: run(kind, args.contacts, args.repeat)
        for kind in (k.strip() for k in args.db.split(","))
    }


if __name__ == "__main__":
    main()
    sys.exit(0)
