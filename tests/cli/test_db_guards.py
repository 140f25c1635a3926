"""Before `db upgrade` nothing is created; `db current` fails when behind; `db downgrade` asks.

Issue #17: a command before `db upgrade` printed `no such table: departments` and left an empty
callrouter.sqlite3 behind; `db current` said "behind" with exit 0; `db downgrade base` dropped
every table with exit 0 and no question.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from callrouter.cli import main
from models import migrate
from models.db import Database
from tests.conftest import _pg_admin, _pg_url

NOT_INITIALISED = (
    "callrouter: error: the database is not initialised: run `callrouter db upgrade`\n"
)


@pytest.fixture
def cli_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`callrouter …` against the database at `url`, from an empty folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)

    def invoke(url: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CALLROUTER_DATABASE_URL", url)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


COMMANDS = [
    ("contacts", "list"),
    ("departments", "add", "Sales"),
    ("managers", "list"),
    ("report", "daily"),
    ("contacts", "add", "+79251234567"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_sqlite_before_upgrade_says_so_and_creates_nothing(cli_at, tmp_path, args):
    code, _out, err = cli_at("sqlite:///callrouter.sqlite3", *args)
    assert (code, err) == (2, NOT_INITIALISED)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_sqlite_file_is_not_initialised_either(cli_at, tmp_path):
    (tmp_path / "empty.sqlite3").touch()
    code, _out, err = cli_at("sqlite:///empty.sqlite3", "departments", "add", "Sales")
    assert (code, err) == (2, NOT_INITIALISED)
    assert asyncio.run(_tables(f"sqlite:///{tmp_path / 'empty.sqlite3'}")) == []


@pytest.fixture
def empty_postgres() -> str:
    name = f"callrouter_empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _tables(url: str) -> list[str]:
    from sqlalchemy import inspect

    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await db.dispose()


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_postgresql_before_upgrade_says_so_and_creates_nothing(cli_at, empty_postgres, args):
    code, _out, err = cli_at(empty_postgres, *args)
    assert (code, err) == (2, NOT_INITIALISED)
    assert asyncio.run(_tables(empty_postgres)) == []


def test_db_current_before_upgrade_fails_and_creates_nothing(cli_at, tmp_path):
    code, out, _err = cli_at("sqlite:///callrouter.sqlite3", "db", "current")
    assert code == 1
    assert "the database is not initialised: run `callrouter db upgrade`" in out
    assert list(tmp_path.iterdir()) == []


def test_status_before_upgrade_creates_nothing(cli_at, tmp_path):
    code, out, _err = cli_at("sqlite:///callrouter.sqlite3", "status")
    assert code == 1
    assert "not initialised: run `callrouter db upgrade`" in out
    assert not (tmp_path / "callrouter.sqlite3").exists()


def test_db_current_behind_exits_1(cli, db_url):
    assert cli("db", "current").code == 0
    previous = migrate.head_revision()
    asyncio.run(_downgrade_one(db_url))
    result = cli("db", "current")
    assert result.code == 1
    assert f"behind (latest is {previous}): run `callrouter db upgrade`" in result.out


async def _downgrade_one(url: str) -> None:
    db = Database(url)
    try:
        await migrate.downgrade(db.engine, "-1")
    finally:
        await db.dispose()


def test_downgrade_without_yes_says_what_would_be_lost_and_changes_nothing(
    cli, db_url, table_counts
):
    assert cli("departments", "add", "Sales").code == 0
    assert cli("managers", "add", "Anna", "--phone", "101", "--department", "Sales").code == 0
    before = table_counts()
    refused = cli("db", "downgrade", "base")
    assert refused.code == 2
    assert refused.err.count("\n") == 1
    assert refused.err.startswith("callrouter: error: `db downgrade base` drops ")
    assert "departments (1 rows)" in refused.err and "managers (1 rows)" in refused.err
    assert "nothing changed: add --yes to confirm" in refused.err
    assert table_counts() == before
    assert "up to date" in cli("db", "current").out


def test_downgrade_with_yes_drops_what_it_said(cli, db_url):
    said = cli("db", "downgrade", "base").err
    done = cli("db", "downgrade", "base", "--yes")
    assert done.code == 0, done.err
    assert "departments (0 rows)" in said and "departments (0 rows)" in done.out
    assert done.out.splitlines()[-1] == "database schema at revision none (base)"
    assert [t for t in asyncio.run(_tables(db_url)) if t != "alembic_version"] == []
    assert cli("departments", "list").err == NOT_INITIALISED
