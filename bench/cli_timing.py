"""How long the `callrouter` command takes to answer, hyperfine-style: N runs of each command in a
new process, best and median wall time.

    .venv/bin/python -m bench.cli_timing --runs 20
    .venv/bin/python -m bench.cli_timing --runs 3      # smoke
    .venv/bin/python -m bench.cli_timing --no-postgres # SQLite alone

Commands timed: `callrouter --help`, `callrouter --version`, `callrouter deals --help`, and
`callrouter deals list` / `contacts list` / `calls list` / `tasks list` on a small office (2
managers, 50 contacts and 50 deals, migrated) in a temporary SQLite file, then the same four on
the same office in a throwaway PostgreSQL database (created on the server of `--postgres`, by
default postgresql://postgres@127.0.0.1:5432/postgres, env CALLROUTER_BENCH_POSTGRES_URL, and
dropped after; an unreachable server stops the benchmark: say `--no-postgres`), plus
`python -c pass` as the floor (the interpreter's own start-up) and `python -c "import click"`.
Targets (issue #17): `--help` ≤ 200 ms, a listing ≤ 400 ms on either database. A listing reads
through models/direct.py (sqlite3 or asyncpg, no SQLAlchemy), so it costs the interpreter,
click, the settings (pydantic) and the driver.

Wall time depends on the machine's load (printed first, with the children's CPU time beside each
command). With PYTHONDONTWRITEBYTECODE set, Python compiles the project's own modules again in
every process (an installed callrouter has its bytecode): the first line says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from models import migrate
from models.db import Database
from models.tables import Contact, Deal, Department, Manager

REPO = Path(__file__).resolve().parents[1]
LISTINGS = ("deals", "contacts", "calls", "tasks")
TARGETS = (
    {"callrouter --help": 0.200}
    | {f"callrouter {what} list": 0.400 for what in LISTINGS}
    | {f"callrouter {what} list (PostgreSQL)": 0.400 for what in LISTINGS}
)
POSTGRES = os.environ.get(
    "CALLROUTER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def small_office(url: str) -> None:
    await migrate.upgrade_url(url)
    db = Database(url)
    try:
        async with db.transaction() as s:
            department = Department(name="Продажи")
            s.add(department)
            await s.flush()
            managers = [
                Manager(name=name, endpoint=f"PJSIP/{ext}", department_id=department.id)
                for ext, name in (("101", "Анна"), ("102", "Борис"))
            ]
            s.add_all(managers)
            await s.flush()
            for n in range(50):
                contact = Contact(
                    phone=f"+7916{n:07d}",
                    name=f"Клиент {n}",
                    responsible_manager_id=managers[n % 2].id,
                )
                s.add(contact)
                await s.flush()
                s.add(
                    Deal(
                        contact_id=contact.id,
                        responsible_manager_id=managers[n % 2].id,
                        title=f"Окна {n}",
                        source="manual",
                    )
                )
    finally:
        await db.dispose()


@contextmanager
def throwaway_postgres(server: str) -> Iterator[str]:
    """The URL of a new, empty database on `server` (an admin's URL), dropped afterwards."""
    import asyncpg

    name = f"callrouter_cli_timing_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(server)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def time_runs(argv: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system) of `runs` new processes."""
    times, cpu = [], []
    subprocess.run(argv, env=env, cwd=REPO, capture_output=True)  # warm the page cache
    for _ in range(runs):
        before = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        cpu.append(_children_cpu() - before)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr[-500:]}")
    return times, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_timing", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--postgres", default=POSTGRES, help="PostgreSQL server (an admin's URL) for its listings"
    )
    parser.add_argument("--no-postgres", action="store_true", help="Time SQLite alone.")
    args = parser.parse_args(argv)
    command = str(Path(sys.executable).with_name("callrouter"))
    python = sys.executable
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="callrouter-cli-timing-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'small.sqlite3'}"
        asyncio.run(small_office(url))
        cases = {
            "python -c pass (floor)": [python, "-c", "pass"],
            "python -c 'import click'": [python, "-c", "import click"],
            "callrouter --help": [command, "--help"],
            "callrouter --version": [command, "--version"],
            "callrouter deals --help": [command, "deals", "--help"],
        } | {f"callrouter {what} list": [command, what, "list"] for what in LISTINGS}
        print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} runs each (after one warm-up)")
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            print("PYTHONDONTWRITEBYTECODE is set: every run compiles the project's modules")
        print(f"  {'command':<41} {'best':>8} {'median':>8}  {'CPU median':>10}   target")
        results |= _time_cases(cases, args.runs, _env(url))
        if not args.no_postgres:
            with throwaway_postgres(args.postgres) as pg_url:
                asyncio.run(small_office(pg_url))
                cases = {
                    f"callrouter {what} list (PostgreSQL)": [command, what, "list"]
                    for what in LISTINGS
                }
                results |= _time_cases(cases, args.runs, _env(pg_url))
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return results


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ, CALLROUTER_DATABASE_URL=url, CALLROUTER_ENDPOINT_TECHNOLOGY="PJSIP")
    env.pop("CALLROUTER_CONFIG", None)
    return env


def _time_cases(
    cases: dict[str, list[str]], runs: int, env: dict[str, str]
) -> dict[str, tuple[float, float]]:
    """Each case's best and median wall time, printed with its CPU median and target."""
    results: dict[str, tuple[float, float]] = {}
    for name, case in cases.items():
        times, cpu = time_runs(case, runs, env)
        best, median = min(times), statistics.median(times)
        results[name] = (best, median)
        target = TARGETS.get(name)
        verdict = f"≤ {target * 1000:.0f} ms" if target else ""
        print(
            f"  {name:<41} {best * 1000:6.0f} ms {median * 1000:6.0f} ms "
            f"{statistics.median(cpu) * 1000:7.0f} ms   {verdict}"
        )
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
