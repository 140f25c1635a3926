"""Revision 0007 moves existing data into the ownership model and says what it changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import column, insert, select, table

from models import migrate
from models.base import UtcDateTime
from models.db import create_engine
from models.tables import Contact, Deal, DealStatusChange, Manager, Task

WHEN = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
ANNA, BORIS, GONE = 1, 2, 3
# deal_status_changes as revision 0006 has it (no `kind` yet).
OLD_HISTORY = table(
    "deal_status_changes",
    *(column(name) for name in ("id", "deal_id", "from_status", "to_status", "changed_by")),
    column("changed_at", UtcDateTime),
)


async def test_existing_data_moves_into_the_model(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.downgrade(engine, "0006")
        async with engine.begin() as conn:
            await conn.execute(
                insert(Manager),
                [
                    {"id": ANNA, "name": "Анна", "endpoint": "PJSIP/101", "active": True},
                    {"id": BORIS, "name": "Борис", "endpoint": "PJSIP/102", "active": True},
                    {"id": GONE, "name": "Ушёл", "endpoint": "PJSIP/103", "active": False},
                ],
            )
            # contact: its responsible; deal: (contact, responsible, status, closed)
            contacts = {1: None, 2: BORIS, 3: ANNA, 4: GONE}
            await conn.execute(
                insert(Contact),
                [
                    {"id": i, "phone": f"+7916000000{i}", "responsible_manager_id": m}
                    for i, m in contacts.items()
                ],
            )
            deals = {
                10: (1, ANNA, "new", None),  # the unowned contact gets Анна
                20: (2, ANNA, "in_progress", None),  # follows its contact to Борис
                30: (3, ANNA, "won", WHEN),  # closed: its open task is cancelled
                40: (4, GONE, "new", None),  # a deactivated manager's: left, listed
            }
            await conn.execute(
                insert(Deal),
                [
                    {
                        "id": i,
                        "contact_id": c,
                        "responsible_manager_id": m,
                        "status": s,
                        "source": "manual",
                        "closed_at": closed,
                    }
                    for i, (c, m, s, closed) in deals.items()
                ],
            )
            # Deal 20's history so far, and the rule task that status change made.
            await conn.execute(
                insert(OLD_HISTORY).values(
                    deal_id=20, from_status="new", to_status="in_progress",
                    changed_by="cli", changed_at=WHEN,
                )
            )  # fmt: skip
            await conn.execute(
                insert(Task),
                [
                    {
                        "id": deal_id,
                        "deal_id": deal_id,
                        "contact_id": deals[deal_id][0],
                        "responsible_manager_id": deals[deal_id][1],
                        "due_at": WHEN,
                        "type": "call",
                        "comment": "x",
                        "created_by": "person",
                        "status_change_id": 1 if deal_id == 20 else None,
                    }
                    for deal_id in (20, 30, 40)
                ],
            )
        capsys.readouterr()

        await migrate.upgrade(engine)

        said = capsys.readouterr().out
        assert "0007: 1 contact(s) without a responsible got their open deal's" in said
        assert "0007: 1 open deal(s) now follow their contact's responsible" in said
        assert "0007: 1 open task(s) of closed deals cancelled" in said
        assert (
            "0007: deactivated manager #3 still holds 1 contact(s), 1 open deal(s), "
            "1 open task(s)" in said
        )
        assert "Ушёл" not in said and "+7916" not in said  # ids and counts only
        async with engine.connect() as conn:
            owners = dict(
                (await conn.execute(select(Contact.id, Contact.responsible_manager_id))).all()
            )
            deal_owners = dict(
                (await conn.execute(select(Deal.id, Deal.responsible_manager_id))).all()
            )
            tasks = {
                t.id: (t.status, t.close_reason, t.responsible_manager_id, t.status_change_id)
                for t in (await conn.execute(select(Task.__table__))).all()
            }
            history = (
                await conn.execute(
                    select(
                        DealStatusChange.deal_id,
                        DealStatusChange.kind,
                        DealStatusChange.from_manager_id,
                        DealStatusChange.to_manager_id,
                        DealStatusChange.changed_by,
                    )
                )
            ).all()
        assert owners == {1: ANNA, 2: BORIS, 3: ANNA, 4: GONE}
        assert deal_owners == {10: ANNA, 20: BORIS, 30: ANNA, 40: GONE}
        assert tasks == {
            # Moving tasks is the handover's job, not the migration's; rebuilding tables on
            # SQLite keeps every link (a task to its status change) intact.
            20: ("open", None, ANNA, 1),
            30: ("cancelled", "deal closed: won", ANNA, None),
            40: ("open", None, GONE, None),
        }
        assert history == [
            (20, "status", None, None, "cli"),
            (20, "assigned", ANNA, BORIS, "migration 0007"),
        ]

        await migrate.downgrade(engine, "0006")
        await migrate.upgrade(engine)
        assert await migrate.is_current(engine)
    finally:
        await engine.dispose()
