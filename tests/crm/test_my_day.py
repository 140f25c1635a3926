"""My day and the missed calls board (crm/my_day.py, crm/missed_board.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.settings import CallbackSettings
from crm import staff, tasks
from crm.access import Viewer
from crm.call_sink import DbCallSink
from crm.callbacks import escalate_callbacks
from crm.missed_board import missed_board
from crm.my_day import my_day
from crm.notes import deal_notes
from models.db import Database
from models.errors import InputError, MissingField
from models.tables import Deal, Task
from tests.crm.test_access import T0, build_world
from tests.sink.test_call_sink import CLIENT, inbound, office  # noqa: F401

MOSCOW = ZoneInfo("Europe/Moscow")


async def _task(db: Database, who: str, due: datetime, comment: str) -> int:
    async with db.transaction() as s:
        manager = await staff.get_manager(s, who, "PJSIP")
        deal = await s.scalar(
            select(Deal).where(Deal.responsible_manager_id == manager.id).order_by(Deal.id.desc())
        )
        task = await tasks.add_task(
            s,
            deal=deal,
            responsible=manager,
            due_at=due,
            task_type="call",
            comment=comment,
            now=T0 - timedelta(days=3),
        )
        return task.id


async def test_overdue_first_then_today_then_tomorrow(db: Database) -> None:
    w = await build_world(db)
    now = T0 + timedelta(hours=1)  # Friday 11:00 in Moscow
    late = await _task(db, "101", T0 - timedelta(days=1), "late")
    evening = await _task(db, "101", datetime(2026, 11, 27, 20, 59, tzinfo=UTC), "23:59")
    saturday = await _task(db, "101", datetime(2026, 11, 28, 9, 0, tzinfo=UTC), "sat")
    await _task(db, "101", datetime(2026, 11, 28, 21, 0, tzinfo=UTC), "sunday 00:00")
    await _task(db, "102", T0 - timedelta(hours=5), "Борис's")
    done = await _task(db, "101", T0 - timedelta(hours=3), "done")
    async with db.transaction() as s:
        await tasks.close_task(
            s, await tasks.get_task(s, done), status=tasks.TaskStatus.DONE, reason="ok", now=now
        )
    day = await my_day(db.fast, w.managers["anna"], now, default_timezone="UTC")
    assert day.timezone == "Europe/Moscow" and day.today.isoformat() == "2026-11-27"
    assert [t.id for t in day.overdue] == [late]
    assert [t.id for t in day.due_today] == [w.tasks["anna"], evening]
    assert [t.id for t in day.tomorrow] == [saturday]
    first = day.overdue[0]
    assert (first.deal_id, first.contact_id, first.contact_name) == (
        w.deals["anna"],
        w.contacts["anna"],
        "Клиент Анна",
    )


async def test_today_is_the_departments_day(db: Database) -> None:
    """20:30 UTC is 23:30 in Moscow (today) but 01:30 tomorrow in Yekaterinburg."""
    w = await build_world(db)
    now = T0 + timedelta(hours=1)
    night = datetime(2026, 11, 27, 20, 30, tzinfo=UTC)
    vera = await _task(db, "104", night, "night")
    anna = await _task(db, "101", night, "night")
    v = await my_day(db.fast, w.managers["vera"], now, default_timezone="UTC")
    a = await my_day(db.fast, w.managers["anna"], now, default_timezone="UTC")
    nobody = await my_day(db.fast, None, now, default_timezone="Europe/Moscow")
    assert vera in [t.id for t in v.tomorrow] and anna in [t.id for t in a.due_today]
    assert (nobody.overdue, nobody.due_today, nobody.tomorrow, nobody.missed) == ((), (), (), ())


async def test_reschedule_keeps_the_reason_as_a_note(db: Database) -> None:
    w = await build_world(db)
    now = T0 + timedelta(minutes=30)
    new_due = T0 + timedelta(days=1)
    async with db.transaction() as s:
        task = await tasks.get_task(s, w.tasks["anna"])
        await tasks.reschedule_task(
            s,
            task,
            due_at=new_due,
            reason="  клиент в отпуске ",
            now=now,
            tz=MOSCOW,
            author_manager_id=w.managers["anna"],
        )
    async with db.reader() as s:
        task = await tasks.get_task(s, w.tasks["anna"])
        notes = await deal_notes(s, w.deals["anna"])
    assert task.due_at == new_due
    assert [(n.kind, n.text, n.author) for n in notes] == [
        ("reschedule", f"#{task.id} 2026-11-27 12:00 → 2026-11-28 10:00: клиент в отпуске", "Анна")
    ]
    for due, reason, error in (
        (None, "x", MissingField),
        (new_due, "  ", MissingField),
        (T0, "past", InputError),
    ):
        async with db.transaction() as s:
            task = await tasks.get_task(s, w.tasks["anna"])
            try:
                await tasks.reschedule_task(s, task, due_at=due, reason=reason, now=now, tz=MOSCOW)
            except error:
                pass
            else:
                raise AssertionError(f"{due} {reason!r} accepted")
    async with db.reader() as s:
        assert (await tasks.get_task(s, w.tasks["anna"])).due_at == new_due
        assert len(await deal_notes(s, w.deals["anna"])) == 1


async def test_unreturned_misses_on_my_day_and_the_board(office: Database) -> None:  # noqa: F811
    db = office
    sink = DbCallSink(db)
    await sink.store(inbound("m.1", answered_by=None, rung=("PJSIP/101", "PJSIP/102")))
    await sink.store(
        inbound(
            "m.2",
            at=T0 + timedelta(minutes=5),
            answered_by=None,
            rung=("PJSIP/101", "PJSIP/102"),
        )
    )
    async with db.reader() as s:
        callback = await s.scalar(select(Task).where(Task.purpose == "callback"))
    holder = callback.responsible_manager_id
    other = 2 if holder == 1 else 1
    now = T0 + timedelta(minutes=10)
    mine = await my_day(db.fast, holder, now, default_timezone="UTC")
    theirs = await my_day(db.fast, other, now, default_timezone="UTC")
    head = await missed_board(db.fast, Viewer("head_of_sales", 3, 1), now)
    owner = await missed_board(db.fast, Viewer("owner", 4, None), now)
    assert theirs.missed == () and theirs.missed_total == 0
    (entry,) = mine.missed
    assert (entry.number, entry.missed_calls, entry.task_id, entry.responsible_id) == (
        CLIENT,
        2,
        callback.id,
        holder,
    )
    assert entry.age_seconds == 600.0 and entry.due_at == callback.due_at
    assert entry.escalation is None and not entry.overdue
    assert head.entries == owner.entries == (entry,)

    # Past the deadline the call-back goes up to the head: the board says so.
    later = callback.due_at + timedelta(minutes=1)
    await escalate_callbacks(db, CallbackSettings(), later, MOSCOW)
    (escalated,) = (await missed_board(db.fast, Viewer("owner", 4, None), later)).entries
    head_day = await my_day(db.fast, 3, later, default_timezone="UTC")
    assert escalated.overdue and escalated.responsible == "Head"
    assert escalated.escalation is not None
    assert (escalated.escalation.to_manager, escalated.escalation.mode) == ("Head", "reassign")
    assert [e.number for e in head_day.missed] == [CLIENT]

    # The client gets through: nothing unreturned is left.
    await sink.store(inbound("m.3", at=later + timedelta(minutes=1), answered_by="PJSIP/101"))
    assert (await missed_board(db.fast, Viewer("owner", 4, None), later)).total == 0
