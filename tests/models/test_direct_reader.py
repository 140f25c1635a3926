"""The direct reader (models/direct.py) on a real SQLite file and a real PostgreSQL: what the ORM
wrote reads back equal, nothing is written or created, and each refusal is the CLI's one line.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models.db import Database
from models.direct import (
    NOT_INITIALISED,
    DatabaseUnavailable,
    NotInitialised,
    numbered,
    open_reader,
)
from models.tables import Contact, Deal, Manager, Task
from tests.conftest import _pg_admin, _pg_url

WRITTEN = datetime(2026, 12, 3, 9, 15, 42, 123456, tzinfo=UTC)


async def _office(db: Database) -> dict[str, int]:
    """A manager (inactive), a contact, a deal and a task due at WRITTEN, written by the ORM."""
    async with db.transaction() as s:
        anna = Manager(name="Анна", endpoint="PJSIP/101", active=False, created_at=WRITTEN)
        s.add(anna)
        await s.flush()
        contact = Contact(phone="+79161234567", responsible_manager_id=anna.id)
        s.add(contact)
        await s.flush()
        deal = Deal(contact_id=contact.id, source="manual", updated_at=WRITTEN)
        s.add(deal)
        await s.flush()
        task = Task(
            deal_id=deal.id,
            contact_id=contact.id,
            responsible_manager_id=anna.id,
            due_at=WRITTEN,
            type="call",
            comment="перезвонить",
            created_by="person",
        )
        s.add(task)
        await s.flush()
        return {"manager": anna.id, "task": task.id}


def _write(db_url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        db = Database(db_url)
        try:
            return await _office(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_datetimes_and_flags_written_by_the_orm_read_back_equal(db_url: str) -> None:
    ids = _write(db_url)
    with open_reader(db_url) as reader:
        [manager] = reader.fetch(
            "SELECT id, active, created_at FROM managers WHERE id = :id",
            {"id": ids["manager"]},
            times=("created_at",),
            flags=("active",),
        )
        [task] = reader.fetch("SELECT due_at FROM tasks", times=("due_at",))
    assert manager == {"id": ids["manager"], "active": False, "created_at": WRITTEN}
    assert manager["active"] is False
    assert task["due_at"] == WRITTEN and task["due_at"].tzinfo == UTC


def test_a_bound_datetime_compares_as_the_orm_compares(db_url: str) -> None:
    """`due_at < :now` with now at the deadline itself, just after it, long before, and the
    deadline's own moment in another zone."""
    _write(db_url)
    sql = "SELECT count(*) AS n FROM tasks WHERE due_at < :now"
    in_moscow = WRITTEN.astimezone(ZoneInfo("Europe/Moscow"))
    with open_reader(db_url) as reader:

        def due_before(now: datetime) -> int:
            return int(reader.fetch(sql, {"now": now})[0]["n"])

        assert due_before(WRITTEN) == 0
        assert due_before(WRITTEN + timedelta(microseconds=1)) == 1
        assert due_before(WRITTEN - timedelta(days=400)) == 0
        assert due_before(in_moscow) == 0
        assert due_before(in_moscow + timedelta(microseconds=1)) == 1
        with pytest.raises(ValueError, match="naive datetime"):
            due_before(datetime(2026, 12, 3))


def test_a_name_used_twice_is_one_parameter(db_url: str) -> None:
    ids = _write(db_url)
    with open_reader(db_url) as reader:
        rows = reader.fetch(
            "SELECT id FROM managers WHERE id = :id OR (id = :id AND name = :name)",
            {"id": ids["manager"], "name": "Анна"},
        )
    assert rows == [{"id": ids["manager"]}]
    assert numbered("a = :a AND b = :b OR c = :a AND d::text = :b_2") == (
        "a = $1 AND b = $2 OR c = $1 AND d::text = $3",
        ["a", "b", "b_2"],
    )


def test_the_reader_writes_nothing(db_url: str) -> None:
    _write(db_url)
    with pytest.raises(DatabaseUnavailable, match="read-?only"), open_reader(db_url) as reader:
        reader.fetch("DELETE FROM tasks")

    async def count() -> int:
        db = Database(db_url)
        try:
            async with db.reader() as s:
                return int(await s.scalar(select(func.count()).select_from(Task)) or 0)
        finally:
            await db.dispose()

    assert asyncio.run(count()) == 1


def test_a_sqlite_reader_creates_no_file_and_leaves_none_behind(tmp_path: Path, db_url: str):
    missing = tmp_path / "nothing-here" / "callrouter.sqlite3"
    missing.parent.mkdir()
    with pytest.raises(NotInitialised) as refused, open_reader(f"sqlite:///{missing}"):
        pass
    assert str(refused.value) == NOT_INITIALISED
    assert list(missing.parent.iterdir()) == []
    if not db_url.startswith("sqlite"):
        return
    _write(db_url)
    folder = Path(db_url.partition(":///")[2]).parent
    before = sorted(p.name for p in folder.iterdir())
    with open_reader(db_url) as reader:
        assert reader.fetch("SELECT count(*) AS n FROM deals") == [{"n": 1}]
    assert sorted(p.name for p in folder.iterdir()) == before  # no -wal or -shm left


def test_an_empty_sqlite_file_is_not_initialised(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with pytest.raises(NotInitialised), open_reader(f"sqlite:///{empty}"):
        pass
    assert empty.stat().st_size == 0
    with pytest.raises(NotInitialised), open_reader("sqlite://"):
        pass


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    name = f"callrouter_empty_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_an_empty_postgresql_database_is_not_initialised(empty_postgres: str) -> None:
    with pytest.raises(NotInitialised), open_reader(empty_postgres):
        pass


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u@127.0.0.1:1/crm", "database unavailable: Connection refused"),
        (_pg_url("callrouter_no_such_db"), 'database "callrouter_no_such_db" does not exist'),
    ],
)
def test_an_unreachable_database_is_one_line(url: str, message: str) -> None:
    with pytest.raises(DatabaseUnavailable) as refused, open_reader(url):
        pass
    assert message in str(refused.value)
    assert str(refused.value).startswith("database unavailable: ")
    assert "\n" not in str(refused.value)


def test_a_file_that_is_no_database_is_unavailable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 50)
    with pytest.raises(DatabaseUnavailable) as refused, open_reader(f"sqlite:///{junk}"):
        pass
    assert str(refused.value) == "database unavailable: file is not a database"
