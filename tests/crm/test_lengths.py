"""Long and multi-line text is refused before the database, the same way on both backends.

Issue #17: on PostgreSQL one 312-character name made `contacts import` fail whole ("value too
long for type character varying(200)", no line number, 0 of 14 good rows imported) while SQLite
stored it; and names with a line break or a tab broke every table that listed them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest
from sqlalchemy import func, select

from models.db import Database
from models.limits import max_length
from models.tables import Contact, Department, Manager

NAME_LIMIT = max_length("contacts", "name")


def test_the_limits_are_the_columns_lengths():
    assert NAME_LIMIT == Contact.__table__.c.name.type.length == 200
    assert max_length("departments", "name") == Department.__table__.c.name.type.length
    assert max_length("managers", "email") == Manager.__table__.c.email.type.length


def _csv(rows: list[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["phone", "name"])
    writer.writerows(rows)
    return out.getvalue()


async def _contacts(url: str) -> dict[str, str | None]:
    db = Database(url)
    try:
        async with db.reader() as session:
            return {c.phone: c.name for c in (await session.scalars(select(Contact))).all()}
    finally:
        await db.dispose()


def test_import_rejects_the_long_and_the_multi_line_rows_by_line_and_keeps_the_rest(
    cli, db_url, tmp_path
):
    good = [(f"+7925{n:07d}", f"Client {n}") for n in range(14)]
    rows = [
        *good[:5],
        ("+79990000001", "Я" * 312),  # line 7
        *good[5:10],
        ("+79990000002", "Two\nlines"),  # line 13 (its quoted line break makes it two lines)
        ("+79990000003", "Tab\there"),
        *good[10:],
    ]
    path = tmp_path / "clients.csv"
    path.write_text(_csv(rows), encoding="utf-8")
    result = cli("contacts", "import", str(path))
    assert result.code == 0, result.err
    assert "14 contact(s) imported, 3 row(s) rejected" in result.out
    assert "line 7: the contact name is too long: 312 characters, at most 200" in result.err
    assert "line 14: the contact name contains a line break or a tab" in result.err
    assert "line 15: the contact name contains a line break or a tab" in result.err
    said = [line for line in result.err.splitlines() if line.startswith("callrouter: database: ")]
    assert len(said) == 1 and said[0].endswith("/" + db_url.rsplit("/", 1)[1])  # which database
    stored = asyncio.run(_contacts(db_url))
    assert stored == dict(good)


def test_a_name_of_exactly_the_limit_is_stored(cli, db_url, tmp_path):
    path = tmp_path / "clients.csv"
    path.write_text(_csv([("+79251112233", "Ж" * NAME_LIMIT)]), encoding="utf-8")
    result = cli("contacts", "import", str(path))
    assert result.code == 0 and "1 contact(s) imported, 0 row(s) rejected" in result.out
    assert asyncio.run(_contacts(db_url)) == {"+79251112233": "Ж" * NAME_LIMIT}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("departments", "add", "D" * 121),
            "department name is at most 120 characters|the department name is too long",
        ),
        (
            ("managers", "add", "A" * 201, "--phone", "101", "--department", "Sales"),
            "the manager name is too long: 201 characters, at most 200",
        ),
        (("contacts", "add", "+79251112233", "--name", "N" * 201), "the contact name is too long"),
        (
            ("contacts", "add", "+79251112233", "--name", "a\r\nb"),
            "the contact name contains a line break or a tab: write it on one line",
        ),
        (
            ("contacts", "add", "+79251112233", "--name", "a\tb"),
            "the contact name contains a line break or a tab: write it on one line",
        ),
    ],
)
def test_long_or_multi_line_names_are_refused_on_both_backends(cli, table_counts, args, message):
    assert cli("departments", "add", "Sales").code == 0
    before = table_counts()
    result = cli(*args)
    assert result.code == 2
    assert result.err.startswith("callrouter: error: ")
    assert re.search(message, result.err)
    assert result.err.count("\n") == 1
    assert table_counts() == before


async def _names(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.reader() as session:
            departments = (await session.scalars(select(Department.name))).all()
            managers = (await session.scalars(select(Manager.name))).all()
            return [*departments, *managers]
    finally:
        await db.dispose()


def test_no_department_or_manager_name_is_stored_with_a_break(cli, db_url):
    """The staff commands either refuse such a name or write it on one line (their spaces
    collapsed); none is ever stored with a line break or a tab."""
    cli("departments", "add", "Sa\nles")
    cli("departments", "add", "Sales")
    cli("managers", "add", "Anna\tK", "--phone", "101", "--department", "Sales")
    cli("managers", "add", "Boris\nL", "--phone", "102", "--department", "Sales")
    names = asyncio.run(_names(db_url))
    assert "Sales" in names and len(names) >= 1
    assert not [name for name in names if re.search(r"[\t\n\r]", name)]


def test_the_model_refuses_a_manager_or_department_name_with_a_break():
    with pytest.raises(ValueError, match="the manager name contains a line break or a tab"):
        Manager(name="Anna\tK", endpoint="PJSIP/101", role="manager")
    with pytest.raises(ValueError, match="the department name contains a line break or a tab"):
        Department(name="Sa\nles")
    with pytest.raises(ValueError, match="the manager e-mail is too long: 255 characters"):
        Manager(name="Anna", endpoint="PJSIP/101", role="manager", email="a" * 255)


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("Big\norder", "the deal title contains a line break or a tab"),
        ("T" * 201, "the deal title is too long: 201 characters, at most 200"),
    ],
)
def test_a_deal_title_is_one_line_that_fits(cli, table_counts, title, message):
    assert cli("contacts", "add", "+79251112233", "--name", "Ivan").code == 0
    before = table_counts()
    result = cli("deals", "add", "+79251112233", "--title", title)
    assert result.code == 2
    assert result.err.startswith(f"callrouter: error: {message}")
    assert table_counts() == before


async def test_the_orm_checks_hold_outside_the_command_line_too(db):
    """A rename through the ORM (the web application, a script) is checked the same way."""
    async with db.transaction() as session:
        session.add(Department(name="Sales"))
    async with db.transaction() as session:
        department = await session.scalar(select(Department))
        with pytest.raises(ValueError, match="department name contains a line break"):
            department.name = "Sales\nEast"
    async with db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Department)) == 1
        assert await session.scalar(select(Department.name)) == "Sales"
