"""The pages asked on every click cost few statements (issue #16: 20 users on one event loop).

Counted with SQLAlchemy's cursor hook and the fast reads' listeners (models/fast_reads.py),
SELECTs only (SQLite's BEGIN is the driver's): the session check is one joined statement that
also brings the user's department time zone, the deal card reads the managers once for its
names and its forms, and My day asks nothing more when nobody missed a call. A new statement on these pages has to be a decision, not a slip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from crm import access
from models.db import Database
from tests.crm.test_access import build_world

SESSION_CHECK = 1  # the session with its user, manager and department
DEAL_CARD = 6  # managers, deal with contact and scope, history, tasks, calls, notes
MY_DAY = 2  # the three sections' tasks, the missed calls (nothing more when there are none)


@contextmanager
def selects(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    def read(statement: str) -> None:
        note(None, None, statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    db.fast.listeners.append(read)  # the session check and My day run on the driver itself
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)
        db.fast.listeners.remove(read)


async def test_the_deal_card_and_my_day_cost_a_fixed_few_statements(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"])
    async with client_for(anna) as client:
        with selects(db) as seen:
            card = await client.get(f"/deals/{w.deals['anna']}")
        assert card.status_code == 200
        assert len(seen) == SESSION_CHECK + DEAL_CARD, seen
        with selects(db) as seen:
            day = await client.get("/my-day")
        assert day.status_code == 200
        assert len(seen) == SESSION_CHECK + MY_DAY, seen
        # Someone else's deal is still not there, and costs no more than the card.
        with selects(db) as seen:
            other = await client.get(f"/deals/{w.deals['boris']}")
        assert other.status_code == 404
        assert len(seen) <= SESSION_CHECK + DEAL_CARD


async def test_times_are_read_and_typed_in_the_users_department_zone(
    db: Database, make_user, client_for, clock
) -> None:
    """The zone comes with the session check: Вера's department is in Yekaterinburg (UTC+5)."""
    w = await build_world(db)
    vera = await make_user("manager", w.managers["vera"])
    async with client_for(vera) as client:
        card = await client.get(f"/deals/{w.deals['vera']}")
        day = await client.get("/my-day")
    # The new task's default deadline: this time tomorrow, in her zone (the clock is 09:00 UTC).
    assert 'value="2026-12-03T14:00"' in card.text
    assert 'value="2026-12-03T14:00"' in day.text
    anna = await make_user("manager", w.managers["anna"])
    async with client_for(anna) as client:
        card = await client.get(f"/deals/{w.deals['anna']}")
    assert 'value="2026-12-03T12:00"' in card.text  # Moscow, UTC+3


async def test_the_scope_worked_out_in_python_is_the_scope_in_sql(db: Database) -> None:
    """`access.in_scope` over every manager (the deal card's one query) lists exactly what
    `visible_managers` asks the database for, and its active ones `assignable_managers`."""
    w = await build_world(db)
    viewers = [
        access.Viewer("manager", w.managers["anna"]),
        access.Viewer("head_of_sales", w.managers["head"], w.departments["sales"]),
        access.Viewer("head_of_sales", w.managers["head"], None),
        access.Viewer("owner", w.managers["owner"]),
        access.Viewer("admin"),
        access.Viewer("manager", None),
    ]
    async with db.transaction() as s:
        boris = await s.get(access.Manager, w.managers["boris"])
        assert boris is not None
        boris.active = False
    async with db.reader() as s:
        staff = await access.all_managers(s)
        for v in viewers:
            scoped = access.in_scope(v, staff)
            assert [(m.id, m.name) for m in scoped] == await access.visible_managers(s, v), v
            assert [(m.id, m.name) for m in scoped if m.active] == (
                await access.assignable_managers(s, v)
            ), v
