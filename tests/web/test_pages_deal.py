"""The deal card: its content, the status change that fires the rules, the task and note forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crm import automation, contacts, deals, notes
from models.db import Database
from models.tables import Call, Manager, Task
from models.values import TaskType
from tests.crm.test_access import build_world
from tests.web.test_pages_my_day import section, task_ids


async def _rows(db: Database, model: type) -> int:
    async with db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_card_shows_contact_status_tasks_calls_and_history(
    db: Database, make_user, client_for, web_settings
) -> None:
    w = await build_world(db)
    (web_settings.recordings_dir / "anna-1.wav").write_bytes(b"RIFF....WAVE")
    async with db.transaction() as s:
        call = await s.get(Call, w.calls["anna"])
        call.recording_file = "anna-1.wav"
        deal = await deals.get_deal(s, w.deals["anna"])
        await deals.set_status(
            s,
            deal,
            "in_progress",
            statuses=["new", "in_progress", "proposal_sent", "won", "lost"],
            closed_statuses=["won", "lost"],
            now=datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
            actor="manager:Анна",
        )
        # The client moves to Борис and back: two "assigned" entries in the history.
        for who in ("boris", "anna"):
            contact = await contacts.get_contact(s, str(w.contacts["anna"]), "RU")
            await contacts.assign_responsible(
                s,
                contact,
                await s.get(Manager, w.managers[who]),
                closed_statuses=["won", "lost"],
                now=datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
            )
        await notes.add_note(
            s, deal.id, "обещал перезвонить", now=datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
        )
    anna = await make_user("manager", w.managers["anna"], locale="en")
    async with client_for(anna) as client:
        page = await client.get(f"/deals/{w.deals['anna']}")
    assert page.status_code == 200
    html = page.text
    assert "Клиент Анна" in html and "+7 916 111-00-01" in html
    assert 'id="deal-status"' in html and '<option value="in_progress" selected>' in html
    assert task_ids(section(html, "tasks")) == [w.tasks["anna"]]
    calls = section(html, "calls")
    assert f'<article class="call" data-call-id="{w.calls["anna"]}">' in calls
    assert f'<audio controls preload="metadata" src="/calls/{w.calls["anna"]}/recording">' in calls
    assert f'<a class="download" href="/calls/{w.calls["anna"]}/recording?download=1">' in calls
    assert "Answered by" in calls and "0:57" in calls and "Inbound" in calls
    history = section(html, "history")
    for kind in ("status", "assigned", "call", "task", "note"):
        assert f"event-{kind}" in history, kind
    assert "New → In progress" in history and "Анна → Борис" in history
    assert "обещал перезвонить" in history


async def test_status_change_fires_the_rule_and_its_task_appears(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    async with db.transaction() as s:
        await automation.add_rule(
            s,
            name="meet",
            on_status="proposal_sent",
            task_type=TaskType.MEETING,
            due_after=timedelta(days=2),
            comment="Meet {contact_name} about the proposal",
            statuses=["new", "in_progress", "proposal_sent", "won", "lost"],
        )
        rules = [r for r in await automation.list_rules(s) if r.on_status == "proposal_sent"]
    anna = await make_user("manager", w.managers["anna"], locale="en")
    async with client_for(anna) as client:
        changed = await client.post_form(
            f"/deals/{w.deals['anna']}/status", {"status": "proposal_sent"}
        )
        assert changed.status_code == 303
        page = await client.get(changed.headers["location"])
        same = await client.post_form(
            f"/deals/{w.deals['anna']}/status", {"status": "proposal_sent"}
        )
        bogus = await client.post_form(f"/deals/{w.deals['anna']}/status", {"status": "nope"})
    tasks_html = section(page.text, "tasks")
    async with db.reader() as s:
        made = (await s.scalars(select(Task).where(Task.created_by == "rule"))).all()
    assert len(made) == len(rules) >= 1 and {t.rule_id for t in made} == {r.id for r in rules}
    assert "Meet Клиент Анна about the proposal" in tasks_html
    assert task_ids(tasks_html) == [w.tasks["anna"]] + [t.id for t in made]
    assert '<strong data-status="proposal_sent">' in page.text
    for refused in (same, bogus):
        assert refused.status_code == 400
        assert '<p class="error" data-field="status">' in refused.text
    async with db.reader() as s:
        deal = await deals.get_deal(s, w.deals["anna"])
        rule_tasks = await s.scalar(select(func.count()).where(Task.created_by == "rule"))
    assert (deal.status, rule_tasks) == ("proposal_sent", len(rules))


async def test_a_task_without_a_deadline_is_refused_and_nothing_is_written(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"], locale="en")
    before = await _rows(db, Task)
    url = f"/deals/{w.deals['anna']}/tasks"
    form = {"responsible": str(w.managers["anna"]), "type": "call", "comment": "Отправить КП"}
    async with client_for(anna) as client:
        no_due = await client.post_form(url, {**form, "due": ""})
        nothing = await client.post_form(url, {})
        past = await client.post_form(url, {**form, "due": "2026-12-01T09:00"})
        colleague = await client.post_form(
            url, {**form, "due": "2026-12-03T10:00", "responsible": str(w.managers["boris"])}
        )
        ok = await client.post_form(url, {**form, "due": "2026-12-03T10:00"})
    assert no_due.status_code == 400
    assert '<p class="error" data-field="due">' in no_due.text
    assert (
        re.search(r'<p class="error" data-field="(responsible|type|comment)"', no_due.text) is None
    )
    assert (
        ">Отправить КП</textarea>" in no_due.text
        and '<option value="call" selected>' in no_due.text
    )
    assert nothing.status_code == 400
    for field in ("responsible", "due", "type", "comment"):
        assert f'<p class="error" data-field="{field}">' in nothing.text, field
    assert past.status_code == 400 and 'data-field="due"' in past.text
    assert colleague.status_code == 400 and 'data-field="responsible"' in colleague.text
    assert ok.status_code == 303
    assert await _rows(db, Task) == before + 1
    async with db.reader() as s:
        task = await s.scalar(select(Task).order_by(Task.id.desc()).limit(1))
    assert (task.type, task.comment, task.responsible_manager_id, task.created_by) == (
        "call",
        "Отправить КП",
        w.managers["anna"],
        "person",
    )
    assert task.due_at == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 10:00 in Moscow


async def test_notes_and_a_head_giving_a_task_to_a_department_manager(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    head = await make_user("head_of_sales", w.managers["head"], locale="en")
    url = f"/deals/{w.deals['anna']}"
    async with client_for(head) as client:
        empty = await client.post_form(f"{url}/notes", {"text": "   "})
        added = await client.post_form(f"{url}/notes", {"text": "VIP <b>client</b>"})
        task = await client.post_form(
            f"{url}/tasks",
            {
                "responsible": str(w.managers["boris"]),
                "due": "2026-12-03T10:00",
                "type": "meeting",
                "comment": "подменить Анну",
            },
        )
        page = await client.get(url)
    assert empty.status_code == 400 and '<p class="error" data-field="text">' in empty.text
    assert added.status_code == 303 and task.status_code == 303
    assert "VIP &lt;b&gt;client&lt;/b&gt;" in section(page.text, "history")
    assert "подменить Анну" in section(page.text, "tasks")
    async with db.reader() as s:
        assert [n.text for n in await notes.deal_notes(s, w.deals["anna"])] == ["VIP <b>client</b>"]
