"""`callrouter users …` and `managers set-password`: web accounts from the command line."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from sqlalchemy import select

from crm import users
from models.db import Database
from models.tables import User, WebSession

PASSWORD = "s3cret-enough"


@pytest.fixture
def stdin(monkeypatch):
    def feed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return feed


@pytest.fixture
def office(cli):
    assert cli("departments", "add", "Продажи").code == 0
    assert (
        cli("managers", "add", "Анна Смирнова", "--phone", "101", "--department", "Продажи").code
        == 0
    )
    assert (
        cli(
            "managers",
            "add",
            "Жанна",
            "--phone",
            "110",
            "--role",
            "head_of_sales",
            "--department",
            "Продажи",
        ).code
        == 0
    )


def _users(db_url: str) -> dict[str, User]:
    async def read() -> dict[str, User]:
        db = Database(db_url)
        try:
            async with db.reader() as s:
                return {u.login: u for u in await s.scalars(select(User))}
        finally:
            await db.dispose()

    return asyncio.run(read())


def _authenticates(db_url: str, login: str, password: str) -> bool:
    async def check() -> bool:
        db = Database(db_url)
        try:
            async with db.transaction() as s:
                return await users.authenticate(s, login, password) is not None
        finally:
            await db.dispose()

    return asyncio.run(check())


def test_add_list_passwd_deactivate(cli, office, stdin, db_url):
    stdin(PASSWORD + "\n")
    r = cli("users", "add", "Anna", "--manager", "101", "--password-stdin")
    assert r.code == 0, r.err
    assert "'anna'" in r.out and "manager" in r.out
    stdin(PASSWORD + "\n")
    r = cli("users", "add", "root", "--role", "admin", "--password-stdin")
    assert r.code == 0, r.err

    found = _users(db_url)
    assert found["anna"].role == "manager" and found["anna"].manager_id is not None
    assert found["root"].role == "admin" and found["root"].manager_id is None
    assert PASSWORD not in found["anna"].password_hash
    assert found["anna"].password_hash.startswith("$argon2id$")
    assert _authenticates(db_url, "ANNA", PASSWORD)
    assert not _authenticates(db_url, "anna", PASSWORD + "x")

    r = cli("users", "list", "--json")
    rows = {row["login"]: row for row in json.loads(r.out)}
    assert rows["anna"]["manager"].endswith("Анна Смирнова") and rows["root"]["role"] == "admin"
    assert PASSWORD not in r.out and "argon2" not in r.out

    stdin("another-password\n")
    assert cli("users", "passwd", "anna", "--password-stdin").code == 0
    assert _authenticates(db_url, "anna", "another-password")
    assert not _authenticates(db_url, "anna", PASSWORD)

    r = cli("users", "deactivate", "anna")
    assert r.code == 0, r.err
    assert not _authenticates(db_url, "anna", "another-password")


@pytest.mark.parametrize(
    ("args", "stdin_text", "message"),
    [
        (("users", "add", "x", "--role", "king", "--password-stdin"), PASSWORD, "unknown role"),
        (("users", "add", "x", "--role", "manager", "--password-stdin"), PASSWORD, "--manager"),
        (("users", "add", "x", "--role", "owner", "--password-stdin"), "short", "too short"),
        (("users", "add", "x", "--role", "owner", "--password-stdin"), "", "no password"),
        (
            ("users", "add", "bad login!", "--role", "owner", "--password-stdin"),
            PASSWORD,
            "not valid",
        ),
        (("users", "add", "x", "--manager", "999", "--password-stdin"), PASSWORD, "no manager"),
        (
            ("users", "add", "x", "--role", "owner", "--locale", "de", "--password-stdin"),
            PASSWORD,
            "language",
        ),
        (("users", "passwd", "nobody", "--password-stdin"), PASSWORD, "no user"),
        (("users", "deactivate", "nobody"), "", "no user"),
        (("managers", "set-password", "999", "--password-stdin"), PASSWORD, "no manager"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    cli, office, stdin, table_counts, args, stdin_text, message
):
    before = table_counts()
    stdin(stdin_text + "\n" if stdin_text else "")
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert r.err.startswith("callrouter: error: ") and r.err.count("\n") == 1
    assert message in r.err
    assert table_counts() == before


def test_duplicate_login_and_second_account_of_a_manager_are_refused(
    cli, office, stdin, table_counts
):
    stdin(PASSWORD + "\n")
    assert cli("users", "add", "anna", "--manager", "101", "--password-stdin").code == 0
    before = table_counts()
    stdin(PASSWORD + "\n")
    r = cli("users", "add", "ANNA", "--role", "owner", "--password-stdin")
    assert r.code == 2 and "taken" in r.err
    stdin(PASSWORD + "\n")
    r = cli("users", "add", "anna2", "--manager", "Анна Смирнова", "--password-stdin")
    assert r.code == 2 and "already has the account 'anna'" in r.err
    assert table_counts() == before


def test_manager_set_password_creates_then_updates_the_account(cli, office, stdin, db_url):
    stdin(PASSWORD + "\n")
    r = cli("managers", "set-password", "110", "--password-stdin")
    assert r.code == 0, r.err
    assert "'110'" in r.out
    found = _users(db_url)["110"]
    assert found.role == "head_of_sales"  # the manager's own role
    assert _authenticates(db_url, "110", PASSWORD)

    stdin("changed-password\n")
    r = cli("managers", "set-password", "Жанна", "--password-stdin")
    assert r.code == 0, r.err
    assert list(_users(db_url)) == ["110"]
    assert _authenticates(db_url, "110", "changed-password")


def test_deactivated_manager_cannot_log_in(cli, office, stdin, db_url):
    stdin(PASSWORD + "\n")
    assert cli("managers", "set-password", "101", "--password-stdin").code == 0
    assert _authenticates(db_url, "101", PASSWORD)
    assert cli("managers", "deactivate", "101", "--redistribute").code == 0
    assert not _authenticates(db_url, "101", PASSWORD)


def test_passwd_and_deactivate_end_the_sessions(cli, office, stdin, db_url):
    from datetime import UTC, datetime

    from callrouter.web.sessions import create_session

    stdin(PASSWORD + "\n")
    assert cli("users", "add", "boss", "--role", "owner", "--password-stdin").code == 0

    async def open_sessions(n: int) -> int:
        db = Database(db_url)
        try:
            async with db.transaction() as s:
                user = await users.get_user(s, "boss")
                for _ in range(n):
                    await create_session(s, user.id, datetime.now(UTC))
            async with db.reader() as s:
                return len(list(await s.scalars(select(WebSession))))
        finally:
            await db.dispose()

    assert asyncio.run(open_sessions(2)) == 2
    stdin("brand-new-password\n")
    assert cli("users", "passwd", "boss", "--password-stdin").code == 0
    assert asyncio.run(open_sessions(1)) == 1
    r = cli("users", "deactivate", "boss")
    assert "1 session(s) ended" in r.out
    assert asyncio.run(open_sessions(0)) == 0
