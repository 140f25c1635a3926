"""A task's line (the macro `task_list` of _crm.html, its texts made by callrouter/web/task_rows.py)
on My day and on the deal and contact cards: My day's shows the client and the deal, a card's the
status, the responsible and why it was closed; each offers the forms its user may use, and every
name is escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from crm import deals, tasks
from models.db import Database
from models.tables import Manager
from models.values import TaskStatus
from tests.crm.test_access import build_world

# The app's clock (tests/web/conftest.py): Wednesday 2 December 2026, 12:00 in Moscow;
# build_world's task of each manager is a call due 27 November 12:00 in Moscow (overdue).


def line(html: str, task_id: int) -> str:
    match = re.search(rf'<li class="task[^"]*" data-task-id="{task_id}">.*?</li>', html, re.S)
    assert match, f"no line of task {task_id}"
    return match.group(0)


async def test_a_my_day_line_names_the_client_and_the_deal_and_offers_done_and_reschedule(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db, names={"anna": "<b>Анна & Co</b>"})
    async with db.transaction() as s:
        (await deals.get_deal(s, w.deals["anna"])).title = None
    task, deal, contact = w.tasks["anna"], w.deals["anna"], w.contacts["anna"]
    anna = await make_user("manager", w.managers["anna"])
    async with client_for(anna) as client:
        ru_page = (await client.get("/my-day")).text
        await client.post_form("/lang", {"lang": "en"})
        en_page = (await client.get("/my-day")).text
    ru, en = line(ru_page, task), line(en_page, task)
    assert ru.startswith(f'<li class="task is-overdue" data-task-id="{task}">')
    assert '<span class="badge type-call">Звонок</span>' in ru
    assert re.search(
        r'<time datetime="2026-11-27T09:00:00\+00:00" class="overdue">27\.11\.2026', ru
    )
    assert (
        f'<a href="/contacts/{contact}">&lt;b&gt;Анна &amp; Co&lt;/b&gt;</a>'
        ' <span class="muted">+7 916 111-00-01</span>'
    ) in ru
    assert f'<a href="/deals/{deal}">Сделка №{deal}</a> <span class="muted">Новая</span>' in ru
    assert f'<a href="/deals/{deal}">Deal #{deal}</a> <span class="muted">New</span>' in en
    assert '<span class="badge type-call">Call</span>' in en
    for form in ("done", "reschedule"):
        assert f'<form method="post" action="/tasks/{task}/{form}"' in ru
    assert f"/tasks/{task}/cancel" not in ru and "status-" not in ru
    assert ru.count('name="csrf_token"') == 2 and ru.count('name="next" value="/my-day"') == 2
    assert '<input type="datetime-local" name="due" value="2026-12-03T12:00">' in ru


async def test_a_card_line_shows_status_responsible_and_close_reason(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    async with db.transaction() as s:
        deal = await deals.get_deal(s, w.deals["anna"])
        anna_manager = await s.get(Manager, w.managers["anna"])
        closed = await tasks.add_task(
            s,
            deal=deal,
            responsible=anna_manager,
            due_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
            task_type="meeting",
            comment="встреча",
            allow_past=True,
        )
        await tasks.close_task(
            s,
            closed,
            status=TaskStatus.DONE,
            reason="<i>договорились</i>",
            now=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
        )
    open_task = w.tasks["anna"]
    anna = await make_user("manager", w.managers["anna"], locale="en")
    async with client_for(anna) as client:
        card = (await client.get(f"/deals/{w.deals['anna']}")).text
        contact_card = (await client.get(f"/contacts/{w.contacts['anna']}")).text
    opened = line(card, open_task)
    assert opened.startswith(f'<li class="task is-overdue" data-task-id="{open_task}">')
    assert 'class="overdue">' in opened
    assert '<span class="badge status-open">Open</span><span class="muted">Анна</span>' in opened
    for form in ("done", "reschedule", "cancel"):
        assert f'action="/tasks/{open_task}/{form}"' in opened
    assert f'name="next" value="/deals/{w.deals["anna"]}"' in opened
    for html in (card, contact_card):
        done = line(html, closed.id)
        # Due before now but closed: the line is marked, its deadline is not.
        assert done.startswith(f'<li class="task is-overdue" data-task-id="{closed.id}">')
        assert 'class="overdue"' not in done
        assert '<span class="badge type-meeting">Meeting</span>' in done
        assert '<span class="badge status-done">Done</span>' in done
        assert '<p class="muted">&lt;i&gt;договорились&lt;/i&gt;</p>' in done
        assert "<form" not in done and "task-links" not in done
    assert "<form" not in line(contact_card, open_task)
