"""Reads on the driver itself (models/fast_reads.py) give what an ORM session gives, on both
databases: aware UTC times, booleans, the same rows for the same bound values and lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select

from models.db import Database
from models.direct import NotInitialised
from models.fast_reads import FastReader
from models.tables import Contact, Deal, Manager, Task, User

T0 = datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)


async def _office(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        anna = Manager(name="Анна", endpoint="PJSIP/101")
        gone = Manager(name="Борис", endpoint="PJSIP/102", active=False)
        s.add_all([anna, gone])
        await s.flush()
        client = Contact(phone="+79160000001", name="Клиент", responsible_manager_id=anna.id)
        s.add(client)
        await s.flush()
        deal = Deal(contact_id=client.id, responsible_manager_id=anna.id, source="manual")
        s.add(deal)
        await s.flush()
        for n, due in enumerate((T0 - timedelta(microseconds=1), T0, T0 + timedelta(hours=3))):
            s.add(
                Task(
                    deal_id=deal.id,
                    contact_id=client.id,
                    responsible_manager_id=anna.id,
                    due_at=due,
                    type="call",
                    comment=f"task {n}",
                    created_by="person",
                )
            )
        s.add(User(login="anna", password_hash="x", role="manager", manager_id=anna.id))
        return {"anna": anna.id, "gone": gone.id, "deal": deal.id}


TASKS_DUE_BEFORE = (
    select(Task.id, Task.due_at, Task.comment, Task.created_at)
    .where(Task.due_at < bindparam("now", type_=Task.due_at.type))
    .order_by(Task.id)
)
MANAGERS = select(Manager.id, Manager.name, Manager.active).order_by(Manager.id)
MANAGERS_IN = select(Manager.name).where(Manager.id.in_(bindparam("ids", expanding=True)))
ACCOUNTS = select(User.login, User.active, Manager.active.label("manager_active")).join(
    Manager, Manager.id == User.manager_id
)


async def test_rows_are_what_a_session_reads(db: Database) -> None:
    await _office(db)
    for statement, params in (
        (TASKS_DUE_BEFORE, {"now": T0 + timedelta(microseconds=1)}),
        (TASKS_DUE_BEFORE, {"now": T0}),  # microseconds count: the task due at T0 is not before
        (MANAGERS, {}),
        (ACCOUNTS, {}),
    ):
        async with db.reader() as s:
            expected = [tuple(r) for r in (await s.execute(statement, params)).all()]
        got = await db.fast.rows(statement, params)
        assert [tuple(r) for r in got] == expected
        for row in got:
            for value in row:
                if isinstance(value, datetime):
                    assert value.tzinfo is UTC
    due = await db.fast.rows(TASKS_DUE_BEFORE, {"now": T0})
    assert [r.comment for r in due] == ["task 0"]
    assert [type(r.active) for r in await db.fast.rows(MANAGERS)] == [bool, bool]


async def test_a_list_parameter_of_any_length(db: Database) -> None:
    ids = await _office(db)
    both = await db.fast.rows(MANAGERS_IN, {"ids": [ids["anna"], ids["gone"]]})
    assert sorted(r.name for r in both) == ["Анна", "Борис"]
    assert [r.name for r in await db.fast.rows(MANAGERS_IN, {"ids": [ids["gone"]]})] == ["Борис"]
    assert await db.fast.rows(MANAGERS_IN, {"ids": [999]}) == []


async def test_first_and_listeners(db: Database) -> None:
    ids = await _office(db)
    seen: list[str] = []
    db.fast.listeners.append(seen.append)
    first = await db.fast.first(MANAGERS)
    assert (first.id, first.name) == (ids["anna"], "Анна")
    assert await db.fast.first(MANAGERS_IN, {"ids": [999]}) is None
    assert len(seen) == 2 and all(sql.startswith("SELECT") for sql in seen)


async def test_a_missing_sqlite_file_is_an_error_and_stays_missing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.sqlite3"
    reader = FastReader(f"sqlite+aiosqlite:///{path}")
    try:
        with pytest.raises(NotInitialised):
            await reader.rows(MANAGERS)
    finally:
        await reader.close()
    assert not path.exists()
