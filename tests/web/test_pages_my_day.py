"""GET /my-day and the task buttons: order of the sections, done, reschedule with a reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from crm import notes, staff, tasks
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Deal, Task
from tests.crm.test_access import build_world
from tests.sink.test_call_sink import CLIENT, inbound

# The app's clock (tests/web/conftest.py): Wednesday 2 December 2026, 12:00 in Moscow.


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
            task_type="meeting",
            comment=comment,
            allow_past=True,
        )
        return task.id


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert match, f"no section {name}"
    return match.group(0)


def task_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-task-id="(\d+)"', html)]


async def test_overdue_first_then_today_then_tomorrow(db: Database, make_user, client_for) -> None:
    w = await build_world(db)
    # build_world's task of each manager is due 27 November: overdue now.
    today_late = await _task(db, "101", datetime(2026, 12, 2, 15, 0, tzinfo=UTC), "today 18:00")
    today_soon = await _task(db, "101", datetime(2026, 12, 2, 10, 0, tzinfo=UTC), "today 13:00")
    tomorrow = await _task(db, "101", datetime(2026, 12, 3, 6, 0, tzinfo=UTC), "tomorrow")
    await _task(db, "101", datetime(2026, 12, 4, 6, 0, tzinfo=UTC), "the day after")
    await _task(db, "102", datetime(2026, 12, 2, 10, 0, tzinfo=UTC), "Борис's")
    anna = await make_user("manager", w.managers["anna"])
    async with client_for(anna) as client:
        page = await client.get("/my-day")
    assert page.status_code == 200
    html = page.text
    positions = [html.index(f'id="{s}"') for s in ("overdue", "today", "tomorrow", "missed")]
    assert positions == sorted(positions)
    assert task_ids(section(html, "overdue")) == [w.tasks["anna"]]
    assert task_ids(section(html, "today")) == [today_soon, today_late]
    assert task_ids(section(html, "tomorrow")) == [tomorrow]
    assert "the day after" not in html and "Борис&#39;s" not in html
    # Each task names its client and deal, with links.
    overdue = section(html, "overdue")
    assert "Клиент Анна" in overdue and f'href="/deals/{w.deals["anna"]}"' in overdue
    assert f'href="/contacts/{w.contacts["anna"]}"' in overdue
    assert f'action="/tasks/{w.tasks["anna"]}/done"' in overdue
    assert f'action="/tasks/{w.tasks["anna"]}/reschedule"' in overdue


async def test_done_takes_the_task_off_the_day(db: Database, make_user, client_for) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"])
    async with client_for(anna) as client:
        done = await client.post_form(f"/tasks/{w.tasks['anna']}/done", {"next": "/my-day"})
        assert (done.status_code, done.headers["location"]) == (303, "/my-day")
        page = await client.get("/my-day")
        again = await client.post_form(f"/tasks/{w.tasks['anna']}/done")
    assert w.tasks["anna"] not in task_ids(page.text)
    assert again.status_code == 400
    async with db.reader() as s:
        task = await tasks.get_task(s, w.tasks["anna"])
    assert (task.status, task.close_reason) == ("done", "done by hand")


async def test_reschedule_moves_the_task_and_keeps_the_reason(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"], locale="en")
    task_id = w.tasks["anna"]
    async with client_for(anna) as client:
        moved = await client.post_form(
            f"/tasks/{task_id}/reschedule",
            {"due": "2026-12-03T11:30", "reason": "клиент просил завтра", "next": "/my-day"},
        )
        day = await client.get("/my-day")
        card = await client.get(f"/deals/{w.deals['anna']}")
    assert moved.status_code == 303
    assert task_ids(section(day.text, "tomorrow")) == [task_id]
    async with db.reader() as s:
        task = await tasks.get_task(s, task_id)
    assert task.due_at == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)  # 11:30 in Moscow
    history = section(card.text, "history")
    assert "клиент просил завтра" in history and "2026-12-03 11:30" in history


async def test_a_refused_reschedule_shows_the_errors_and_writes_nothing(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"])
    task_id = w.tasks["anna"]
    async with db.reader() as s:
        before = (await tasks.get_task(s, task_id)).due_at
    async with client_for(anna) as client:
        empty = await client.post_form(f"/tasks/{task_id}/reschedule", {"due": "", "reason": ""})
        past = await client.post_form(
            f"/tasks/{task_id}/reschedule",
            {"due": "2026-12-01T10:00", "reason": "typo", "next": f"/deals/{w.deals['anna']}"},
        )
    assert empty.status_code == 400
    assert '<p class="error" data-field="due">' in empty.text
    assert '<p class="error" data-field="reason">' in empty.text
    assert 'id="overdue"' in empty.text  # My day, shown again
    assert past.status_code == 400 and 'id="deal-status"' in past.text  # the deal card
    assert '<p class="error" data-field="due">' in past.text and 'value="typo"' in past.text
    async with db.reader() as s:
        assert (await tasks.get_task(s, task_id)).due_at == before
        card = await notes.deal_notes(s, w.deals["anna"])
    assert card == ()


async def test_my_unreturned_missed_calls_with_their_age(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    await DbCallSink(db).store(inbound("w.1", answered_by=None, rung=("PJSIP/101",)))
    async with db.reader() as s:
        callback = await s.scalar(select(Task).where(Task.purpose == "callback"))
    holder = next(k for k, v in w.managers.items() if v == callback.responsible_manager_id)
    other = "boris" if holder == "anna" else "anna"
    mine = await make_user("manager", w.managers[holder], locale="en")
    theirs = await make_user("manager", w.managers[other], locale="en")
    async with client_for(mine) as client:
        page = await client.get("/my-day")
    async with client_for(theirs) as client:
        not_mine = await client.get("/my-day")
    missed = section(page.text, "missed")
    # Missed 27 Nov 10:00 Moscow, now 2 Dec 12:00: 5 days 2 hours.
    assert f'data-number="{CLIENT}"' in missed and "5 d 2 h ago" in missed
    assert CLIENT not in section(not_mine.text, "missed")
