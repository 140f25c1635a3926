"""The contact card (every deal and call of the client, a call without a deal included) and the
missed calls board (age, deadline, who is on it, escalation) in each role's scope."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.settings import CallbackSettings
from crm.call_sink import DbCallSink
from crm.callbacks import escalate_callbacks
from models.db import Database
from models.tables import Call, Task
from tests.crm.test_access import PHONES, T0, build_world
from tests.sink.test_call_sink import CLIENT, inbound, outbound
from tests.web.test_pages_my_day import section


async def test_the_contact_card_has_every_deal_and_call(
    db: Database, make_user, client_for, web_settings
) -> None:
    w = await build_world(db)
    # Анна rings her client from her phone: a call that belongs to no deal.
    await DbCallSink(db).store(outbound("o.1", at=T0 + timedelta(hours=3)))
    async with db.transaction() as s:
        call = await s.scalar(select(Call).where(Call.linkedid == "o.1"))
        assert call.deal_id is None
        call.external_number = PHONES["anna"]
        call.contact_id = w.contacts["anna"]
        call.recording_file = "o-1.wav"
    (web_settings.recordings_dir / "o-1.wav").write_bytes(b"RIFF")
    anna = await make_user("manager", w.managers["anna"], locale="en")
    async with client_for(anna) as client:
        page = await client.get(f"/contacts/{w.contacts['anna']}")
    assert page.status_code == 200
    calls = section(page.text, "calls")
    for call_id in (w.calls["anna"], call.id):
        assert f'<article class="call" data-call-id="{call_id}">' in calls
    assert f'src="/calls/{call.id}/recording"' in calls and "Outbound" in calls
    deals = section(page.text, "deals")
    assert f'<a href="/deals/{w.deals["anna"]}">Сделка Анна</a>' in deals
    assert "+7 916 111-00-01" in page.text and "Клиент Анна" in page.text


async def test_the_missed_board_in_each_scope(db: Database, make_user, client_for) -> None:
    w = await build_world(db)
    await DbCallSink(db).store(inbound("b.1", answered_by=None, rung=("PJSIP/101", "PJSIP/102")))
    async with db.reader() as s:
        callback = await s.scalar(select(Task).where(Task.purpose == "callback"))
    holder = next(k for k, v in w.managers.items() if v == callback.responsible_manager_id)
    other = "boris" if holder == "anna" else "anna"
    # Long past its deadline: escalated to the head of sales.
    await escalate_callbacks(
        db, CallbackSettings(), callback.due_at + timedelta(hours=1), ZoneInfo("Europe/Moscow")
    )
    users = {
        key: await make_user(role, w.managers[key], locale="en")
        for key, role in (
            (holder, "manager"),
            (other, "manager"),
            ("vera", "manager"),
            ("head", "head_of_sales"),
            ("owner", "owner"),
        )
    }
    pages = {}
    for key, user in users.items():
        async with client_for(user) as client:
            pages[key] = (await client.get("/missed")).text
    for key in (holder, "head", "owner"):
        board = section(pages[key], "missed")
        assert f'data-number="{CLIENT}"' in board, key
        assert f'data-task-id="{callback.id}"' in board
        # 27 Nov 10:00 Moscow to the app's 2 Dec 12:00: 5 days 2 hours; its deadline; the head.
        assert "5 d 2 h" in board and "badge overdue" in board
        assert "moved to Head" in board
    for key in (other, "vera"):
        assert CLIENT not in pages[key] and "Every missed call has been returned." in pages[key]
