"""Real databases for the tests: a SQLite file and a PostgreSQL database per test.

Every test that asks for `db` (or `db_url`) runs once per backend in `--db`
(default: both; env CALLROUTER_TEST_DATABASES). The schema is built once per backend with the
migrations, then copied per test (a file copy; `CREATE DATABASE … TEMPLATE`), so each test
starts from the freshly migrated schema. An unreachable PostgreSQL fails the run loudly — it is
never skipped; pass `--db sqlite` to leave it out on a machine without one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import func, select

from callrouter.cli import main
from models import migrate
from models.base import Base
from models.db import Database

POSTGRES_URL = os.environ.get(
    "CALLROUTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")

# Property tests explore new random examples on every developer run (that is how they find
# bugs); CI replays a fixed set, so a red CI means a change broke something, not bad luck.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default=os.environ.get("CALLROUTER_TEST_DATABASES", ",".join(BACKENDS)),
        help="comma-separated database backends to test against (sqlite,postgresql)",
    )


def _backends(config: pytest.Config) -> list[str]:
    chosen = [b.strip() for b in config.getoption("--db").split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown or not chosen:
        raise pytest.UsageError(f"--db takes {', '.join(BACKENDS)}; got {chosen}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        metafunc.parametrize("db_backend", _backends(metafunc.config), scope="session")


def _pg_url(database: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + database


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(migrate.upgrade_url(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"callrouter_tpl_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is unreachable ({exc}); the PostgreSQL tests are "
            "required — start it, or run with --db sqlite to leave them out locally",
            pytrace=False,
        )
    try:
        asyncio.run(migrate.upgrade_url(_pg_url(name)))
        yield name
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _fresh_database(backend: str, request: pytest.FixtureRequest, path: Path) -> Iterator[str]:
    """A copy of the migrated template: a file at `path` (SQLite) or a new PostgreSQL database."""
    if backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"callrouter_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of the backend under test, for this test alone."""
    with _fresh_database(db_backend, request, tmp_path / "callrouter.sqlite3") as url:
        yield url


@pytest.fixture
def other_db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second fresh database of the same backend (to compare two ways of doing one thing)."""
    with _fresh_database(db_backend, request, tmp_path / "other.sqlite3") as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        await database.dispose()


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run `callrouter ARGS…` in-process against the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", db_url)
    monkeypatch.setenv("CALLROUTER_ENDPOINT_TECHNOLOGY", "PJSIP")

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def table_counts(db_url: str) -> Callable[[], dict[str, int]]:
    """Row counts of every table, to prove a refused command wrote nothing."""

    async def count() -> dict[str, int]:
        db = Database(db_url)
        try:
            async with db.reader() as s:
                return {
                    t.name: await s.scalar(select(func.count()).select_from(t))
                    for t in Base.metadata.sorted_tables
                }
        finally:
            await db.dispose()

    return lambda: asyncio.run(count())
