"""The database itself refuses what must never be stored, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from models.db import Database
from models.tables import Contact, Deal, Manager, Task

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


async def _deal_and_manager(db: Database) -> tuple[int, int, int]:
    async with db.transaction() as s:
        manager = Manager(name="Анна", endpoint="PJSIP/101", role="manager", active=True)
        contact = Contact(phone="+79161234567", name="Иван Петров")
        s.add_all([manager, contact])
        await s.flush()
        deal = Deal(
            contact_id=contact.id, responsible_manager_id=manager.id, status="new", source="manual"
        )
        s.add(deal)
        await s.flush()
        return deal.id, contact.id, manager.id


COMPLETE_TASK = {
    "type": "call",
    "comment": "call back",
    "created_by": "person",
    "status": "open",
    "purpose": "general",
    "missed_calls": 0,
}


@pytest.mark.parametrize("missing", ["responsible_manager_id", "due_at", "type", "comment"])
async def test_database_refuses_a_task_without_a_required_field(db: Database, missing: str) -> None:
    deal_id, contact_id, manager_id = await _deal_and_manager(db)
    row = {
        **COMPLETE_TASK,
        "deal_id": deal_id,
        "contact_id": contact_id,
        "responsible_manager_id": manager_id,
        "due_at": NOW,
        "created_at": NOW,
    }
    row[missing] = None
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(insert(Task).values(**row))
    async with db.reader() as s:
        assert (await s.scalars(select(Task))).all() == []


@pytest.mark.parametrize(
    ("field", "value"), [("comment", "   "), ("type", "fax"), ("status", "maybe")]
)
async def test_database_refuses_a_blank_comment_or_unknown_type(
    db: Database, field: str, value: str
) -> None:
    deal_id, contact_id, manager_id = await _deal_and_manager(db)
    row = {
        **COMPLETE_TASK,
        "deal_id": deal_id,
        "contact_id": contact_id,
        "responsible_manager_id": manager_id,
        "due_at": NOW,
        "created_at": NOW,
        field: value,
    }
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(insert(Task).values(**row))


async def test_database_refuses_a_duplicate_phone(db: Database) -> None:
    async with db.transaction() as s:
        s.add(Contact(phone="+79161234567"))
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            s.add(Contact(phone="+79161234567", name="again"))
    async with db.reader() as s:
        assert len((await s.scalars(select(Contact))).all()) == 1


async def test_only_one_open_callback_task_per_contact(db: Database) -> None:
    deal_id, contact_id, manager_id = await _deal_and_manager(db)
    base = {
        **COMPLETE_TASK,
        "deal_id": deal_id,
        "contact_id": contact_id,
        "responsible_manager_id": manager_id,
        "due_at": NOW,
        "created_at": NOW,
        "purpose": "callback",
        "created_by": "listener",
    }
    async with db.transaction() as s:
        await s.execute(insert(Task).values(**base))
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(insert(Task).values(**base))
    # Once the first is done, a new open call-back task is allowed again.
    async with db.transaction() as s:
        first = await s.scalar(select(Task))
        first.status = "done"
    async with db.transaction() as s:
        await s.execute(insert(Task).values(**{**base, "due_at": NOW + timedelta(hours=1)}))


async def test_times_come_back_as_aware_utc(db: Database) -> None:
    deal_id, *_ = await _deal_and_manager(db)
    async with db.transaction() as s:
        deal = await s.get(Deal, deal_id)
        deal.closed_at = datetime(2026, 11, 27, 13, 0, tzinfo=UTC) + timedelta(hours=0)
    async with db.reader() as s:
        deal = await s.get(Deal, deal_id)
        assert deal.closed_at == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
        assert deal.closed_at.tzinfo is not None
