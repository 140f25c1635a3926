"""Revision 0005 moves call-back escalations out of the task comments into columns, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from models import migrate
from models.db import create_engine
from models.tables import Contact, Deal, Manager, Task

WHEN = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
DUE = "due 2026-11-20 15:15"
MANAGERS = {1: "Анна", 2: "Борис", 3: "Head", 4: "Owner", 5: "Дубль", 6: "Дубль"}

# Open call-backs, one per contact: id: (holder, comment, whether escalated_at is set).
TASKS = {
    10: (3, f"task a [escalated 2026-11-20 19:00: moved from Анна to Head, {DUE}]", True),
    11: (2, f"task b [escalated 2026-11-20 19:00: Head checks on Борис, {DUE}]", True),
    12: (
        1,
        "task c [escalated 2026-11-20 19:00: not returned by Анна, nobody to escalate to]",
        True,
    ),
    13: (3, f"task d [escalated 2026-11-20 19:00: moved from Дубль to Head, {DUE}]", True),
    14: (1, "task e, never escalated", False),
    15: (1, "task f: a person typed [escalated by hand]", False),
}
CHECK = (
    "Missed call from +79160000011 not returned by Борис (task #11, due 2026-11-20 15:15): "
    "make sure the client is called back"
)


async def test_escalation_notes_become_columns(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.downgrade(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(
                insert(Manager),
                [{"id": i, "name": n, "endpoint": f"PJSIP/{i}"} for i, n in MANAGERS.items()],
            )
            for task_id, (holder, comment, escalated) in TASKS.items():
                await conn.execute(insert(Contact).values(id=task_id, phone=f"+791600000{task_id}"))
                await conn.execute(
                    insert(Deal).values(id=task_id, contact_id=task_id, source="manual")
                )
                await conn.execute(
                    insert(Task).values(
                        id=task_id,
                        deal_id=task_id,
                        contact_id=task_id,
                        responsible_manager_id=holder,
                        due_at=WHEN,
                        type="call",
                        comment=comment,
                        purpose="callback",
                        created_by="listener",
                        escalated_at=WHEN if escalated else None,
                    )
                )
            await conn.execute(
                insert(Task).values(
                    id=20,
                    deal_id=11,
                    contact_id=11,
                    responsible_manager_id=3,
                    due_at=WHEN,
                    type="call",
                    comment=CHECK,
                    purpose="general",
                    created_by="rule",
                )
            )

        await migrate.upgrade(engine)

        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    Task.id,
                    Task.escalated_from_manager_id,
                    Task.escalated_to_manager_id,
                    Task.escalation_of_task_id,
                    Task.comment,
                ).order_by(Task.id)
            )
            found = {row.id: row[1:] for row in rows}
        assert {task_id: row[:3] for task_id, row in found.items()} == {
            10: (1, 3, None),  # moved from Анна to Head
            11: (2, 3, None),  # Head checks on Борис …
            20: (None, None, 11),  # … with this check task
            12: (1, None, None),  # nobody to escalate to
            13: (None, 3, None),  # two managers are called Дубль: which one is unknown
            14: (None, None, None),
            15: (None, None, None),  # not escalated: a look-alike note is left alone
        }
        assert found[10][3] == TASKS[10][1]  # the comments stay as they were
    finally:
        await engine.dispose()
