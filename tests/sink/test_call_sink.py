"""Finished calls into the database: one row per call, and the CRM work they create."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ami_listener.calls import CallLeg, CompletedCall
from core.settings import LeadSettings
from crm import deals, staff
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Call, Contact, Deal, Task
from router.directory import Role

T0 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 10:00 in Moscow, a Friday
CLIENT = "+79161234567"


def inbound(
    linkedid: str,
    *,
    at: datetime = T0,
    answered_by: str | None = "PJSIP/101",
    number: str | None = CLIENT,
    name: str | None = "Иван Петров",
    system: str = "pbx1",
    after_hours: bool = False,
    rung: tuple[str, ...] = ("PJSIP/101",),
) -> CompletedCall:
    answered_at = at + timedelta(seconds=4) if answered_by else None
    end = at + timedelta(seconds=65 if answered_by else 20)
    legs = tuple(
        CallLeg(
            endpoint=e,
            channel=f"{e}-0000000{i}",
            ring_started_at=at + timedelta(seconds=1),
            ring_seconds=3.0 if e == answered_by else 10.0,
            answered=e == answered_by,
            dial_status="ANSWER" if e == answered_by else ("CANCEL" if answered_by else "NOANSWER"),
        )
        for i, e in enumerate(rung)
    )
    return CompletedCall(
        system=system,
        linkedid=linkedid,
        direction="inbound",
        external_number=number,
        external_number_raw=(number or "anonymous").lstrip("+"),
        caller_name=name,
        dialed_number="7000",
        started_at=at,
        answered_at=answered_at,
        ended_at=end,
        ring_seconds=4.0 if answered_by else 20.0,
        talk_seconds=61.0 if answered_by else 0.0,
        disposition="ANSWERED" if answered_by else "NO ANSWER",
        answered_by=answered_by,
        manager_endpoint=None,
        abandoned=not answered_by,
        abandon_seconds=None if answered_by else 20.0,
        after_hours=after_hours,
        variables=(("CALLROUTER_PLAN_ID", linkedid), ("CALLROUTER_STEP", "2")),
        recording_file=f"/var/spool/asterisk/monitor/in-{linkedid}.wav",
        legs=legs,
    )


def outbound(
    linkedid: str, *, at: datetime, phone: str = "PJSIP/101", answered: bool = True
) -> CompletedCall:
    return CompletedCall(
        system="pbx1",
        linkedid=linkedid,
        direction="outbound",
        external_number=CLIENT,
        external_number_raw=CLIENT,
        caller_name="Анна",
        dialed_number=CLIENT,
        started_at=at,
        answered_at=at + timedelta(seconds=5) if answered else None,
        ended_at=at + timedelta(seconds=40),
        ring_seconds=5.0,
        talk_seconds=35.0 if answered else 0.0,
        disposition="ANSWERED" if answered else "NO ANSWER",
        answered_by="PJSIP/carrier" if answered else None,
        manager_endpoint=phone,
        abandoned=False,
        abandon_seconds=None,
        after_hours=False,
    )


async def add_office(db: Database) -> None:
    """Sales (Moscow, mon–fri 09–18): Анна 101, Борис 102, head of sales 103; the owner 200."""
    async with db.transaction() as s:
        sales = await staff.add_department(s, "Продажи", "Europe/Moscow")
        await staff.set_hours(s, sales, "mon-fri 09:00-18:00")
        await staff.add_manager(s, name="Анна", endpoint="PJSIP/101", department=sales)
        await staff.add_manager(s, name="Борис", endpoint="PJSIP/102", department=sales)
        await staff.add_manager(
            s, name="Head", endpoint="PJSIP/103", role=Role.HEAD_OF_SALES, department=sales
        )
        await staff.add_manager(s, name="Owner", endpoint="PJSIP/200", role=Role.OWNER)


@pytest.fixture
async def office(db: Database) -> Database:
    await add_office(db)
    return db


async def count(db: Database, table) -> int:
    async with db.reader() as s:
        return await s.scalar(select(func.count()).select_from(table))


async def test_new_number_answered_becomes_a_lead_of_whoever_answered(office: Database) -> None:
    sink = DbCallSink(office)
    result = await sink.store(
        inbound("1001.1", answered_by="PJSIP/102", rung=("PJSIP/101", "PJSIP/102"))
    )
    assert result.created and result.lead.created_deal
    async with office.reader() as s:
        contact = await s.scalar(select(Contact))
        deal = await s.scalar(select(Deal))
        task = await s.scalar(select(Task))
        call = await s.scalar(select(Call))
        await s.refresh(call, ["legs"])
    assert (contact.phone, contact.name) == (CLIENT, "Иван Петров")
    boris = 2
    assert contact.responsible_manager_id == deal.responsible_manager_id == boris
    assert (deal.source, deal.status) == ("inbound_call", "new")
    assert (task.type, task.purpose, task.responsible_manager_id) == ("call", "new_lead", boris)
    assert task.due_at == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 18:00 Moscow, end of day
    assert (call.answered_by_manager_id, call.manager_id, call.deal_id) == (boris, boris, deal.id)
    assert call.recording_file.endswith("in-1001.1.wav") and call.route_step == "2"
    assert [(leg.endpoint, leg.answered, leg.manager_id) for leg in call.legs] == [
        ("PJSIP/101", False, 1),
        ("PJSIP/102", True, 2),
    ]


async def test_replaying_a_call_changes_nothing(office: Database) -> None:
    sink = DbCallSink(office)
    call = inbound("1001.2", answered_by=None)
    first, second = await sink.store(call), await sink.store(call)
    assert first.created and not second.created and first.call_id == second.call_id
    assert (await count(office, Call), await count(office, Deal), await count(office, Task)) == (
        1,
        1,
        1,
    )


async def test_missed_new_number_gets_one_callback_task_for_a_manager(office: Database) -> None:
    # Issue #14: the first call-back goes to a department manager by the fair rule (Анна: nobody
    # has a lead yet, lowest id); the head of sales gets escalations, not call-backs.
    sink = DbCallSink(office)
    await sink.store(inbound("2001.1", answered_by=None))
    await sink.store(inbound("2001.2", answered_by=None, at=T0 + timedelta(minutes=3)))
    async with office.reader() as s:
        tasks = (await s.scalars(select(Task))).all()
        deal = await s.scalar(select(Deal))
        contact = await s.scalar(select(Contact))
        calls = (await s.scalars(select(Call))).all()
    assert len(tasks) == 1
    task = tasks[0]
    anna = 1
    assert (task.purpose, task.type, task.status, task.responsible_manager_id) == (
        "callback",
        "call",
        "open",
        anna,
    )
    assert contact.responsible_manager_id == deal.responsible_manager_id == anna
    assert task.missed_calls == 2 and task.last_missed_at == T0 + timedelta(minutes=3)
    assert "2 missed calls" in task.comment
    assert task.due_at == T0 + timedelta(seconds=20) + timedelta(minutes=15)
    assert deal.source == "missed_call"
    assert all(c.missed and c.deal_id == deal.id for c in calls)


async def test_missed_after_hours_is_due_in_working_time(office: Database) -> None:
    friday_evening = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 19:00 Moscow
    await DbCallSink(office).store(
        inbound("2002.1", answered_by=None, at=friday_evening, after_hours=True)
    )
    async with office.reader() as s:
        task = await s.scalar(select(Task))
        call = await s.scalar(select(Call))
    assert call.after_hours and call.missed
    assert task.due_at == datetime(2026, 11, 30, 6, 15, tzinfo=UTC)  # Monday 09:15 Moscow


async def test_callback_answered_closes_the_task_and_recovers_the_misses(office: Database) -> None:
    sink = DbCallSink(office)
    await sink.store(inbound("3001.1", answered_by=None))
    await sink.store(inbound("3001.2", answered_by=None, at=T0 + timedelta(minutes=1)))
    unanswered = await sink.store(outbound("3001.3", at=T0 + timedelta(minutes=5), answered=False))
    assert unanswered.lead.recovered_calls == 0
    back = await sink.store(outbound("3001.4", at=T0 + timedelta(minutes=10), phone="PJSIP/102"))
    assert back.lead.recovered_calls == 2
    async with office.reader() as s:
        task = await s.scalar(select(Task))
        misses = (await s.scalars(select(Call).where(Call.missed.is_(True)))).all()
        out = await s.get(Call, back.call_id)
    assert task.status == "done" and task.closed_by_call_id == back.call_id
    assert "called back" in task.close_reason
    assert {c.recovered_at for c in misses} == {T0 + timedelta(minutes=10, seconds=5)}
    assert out.manager_id == 2 and out.direction == "outbound" and not out.missed
    # A new miss after recovery opens a new call-back task.
    await sink.store(inbound("3001.5", answered_by=None, at=T0 + timedelta(hours=1)))
    async with office.reader() as s:
        assert len((await s.scalars(select(Task).where(Task.status == "open"))).all()) == 1


async def test_client_calling_again_and_getting_through_recovers(office: Database) -> None:
    sink = DbCallSink(office)
    await sink.store(inbound("3002.1", answered_by=None))
    again = await sink.store(inbound("3002.2", answered_by="PJSIP/103", at=T0 + timedelta(hours=2)))
    assert again.lead.recovered_calls == 1 and not again.lead.created_deal
    async with office.reader() as s:
        task = await s.scalar(select(Task))
    assert task.status == "done" and "client called again" in task.close_reason


async def test_known_client_missed_gets_task_on_open_deal_for_responsible(office: Database) -> None:
    async with office.transaction() as s:
        anna = await staff.get_manager(s, "PJSIP/101")
        contact = Contact(phone=CLIENT, name="Иван", responsible_manager_id=anna.id)
        s.add(contact)
        await s.flush()
        deal = await deals.create_deal(s, contact, source=deals.DealSource.MANUAL, now=T0)
    await DbCallSink(office).store(inbound("4001.1", answered_by=None))
    async with office.reader() as s:
        task = await s.scalar(select(Task))
        assert await s.scalar(select(func.count()).select_from(Deal)) == 1
    assert (task.deal_id, task.responsible_manager_id) == (deal.id, anna.id)


async def test_known_client_with_only_closed_deals_gets_a_new_deal(office: Database) -> None:
    async with office.transaction() as s:
        contact = Contact(phone=CLIENT, name="Иван", responsible_manager_id=1)
        s.add(contact)
        await s.flush()
        old = await deals.create_deal(s, contact, source=deals.DealSource.MANUAL, now=T0)
        await deals.set_status(
            s,
            old,
            "won",
            statuses=LeadSettings().deal_statuses,
            closed_statuses=["won", "lost"],
            now=T0,
        )
    await DbCallSink(office).store(inbound("4002.1", answered_by=None, at=T0 + timedelta(days=1)))
    async with office.reader() as s:
        new = (await s.scalars(select(Deal).where(Deal.id != old.id))).all()
    assert [(d.source, d.status, d.responsible_manager_id) for d in new] == [
        ("missed_call", "new", 1)
    ]


async def test_round_robin_policy_spreads_new_number_callbacks(office: Database) -> None:
    # "round_robin", the setting's old value, still reads as the fair rule (the default now).
    sink = DbCallSink(office, LeadSettings(new_number_callback_owner="round_robin"))
    for i in range(4):
        await sink.store(inbound(f"5001.{i}", answered_by=None, number=f"+7916000000{i}"))
    async with office.reader() as s:
        owners = [t.responsible_manager_id for t in await s.scalars(select(Task).order_by(Task.id))]
    assert owners == [1, 2, 1, 2]


async def test_anonymous_missed_call_is_recorded_without_a_lead(office: Database) -> None:
    result = await DbCallSink(office).store(
        inbound("6001.1", answered_by=None, number=None, name=None)
    )
    assert result.created and result.contact_id is None
    assert (await count(office, Call), await count(office, Contact), await count(office, Task)) == (
        1,
        0,
        0,
    )


async def test_same_linkedid_on_two_systems_is_two_calls(office: Database) -> None:
    sink = DbCallSink(office)
    await sink.store(inbound("7001.1", system="pbx1"))
    await sink.store(inbound("7001.1", system="pbx2", at=T0 + timedelta(minutes=1)))
    assert await count(office, Call) == 2


async def test_two_listeners_racing_on_one_new_number_create_one_of_each(
    db_url: str, office: Database
) -> None:
    first, second = Database(db_url), Database(db_url)
    try:
        sinks = [DbCallSink(first), DbCallSink(second)]
        for round_ in range(8):
            number = f"+7925000000{round_}"
            await asyncio.gather(
                sinks[0].store(
                    inbound(f"r{round_}", system="pbx1", answered_by=None, number=number)
                ),
                sinks[1].store(
                    inbound(f"r{round_}", system="pbx2", answered_by=None, number=number)
                ),
            )
        async with office.reader() as s:
            assert await s.scalar(select(func.count()).select_from(Call)) == 16
            assert await s.scalar(select(func.count()).select_from(Contact)) == 8
            assert await s.scalar(select(func.count()).select_from(Deal)) == 8
            tasks = (await s.scalars(select(Task))).all()
        assert len(tasks) == 8 and {t.missed_calls for t in tasks} == {2}
    finally:
        await first.dispose()
        await second.dispose()
