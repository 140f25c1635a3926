"""Issue #14, point 1: the quickest *manager* gets the lead — never the boss who picked up.

The office of tests/sink/test_call_sink.py: Анна (1) and Борис (2), managers of Продажи; the head
of sales (3, Head) and the owner (4, Owner). Calls go through the real writer on SQLite and
PostgreSQL; what is asserted is what a user sees: who owns the client, who has the task, whom
the next call from that number rings first.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.settings import LeadSettings
from crm import staff
from crm.assignment import pick_fair_manager
from crm.call_sink import DbCallSink
from models.db import Database
from models.directory import find_contact_view, load_directory
from models.tables import Contact, Deal, Task
from router.directory import Role
from router.plan import IncomingCall, plan
from tests.sink.test_call_sink import CLIENT, T0, inbound, office  # noqa: F401

ANNA, BORIS, HEAD, OWNER = 1, 2, 3, 4


async def _lead_of(db: Database, phone: str = CLIENT) -> tuple[Contact, Deal, list[Task]]:
    async with db.reader() as s:
        contact = await s.scalar(select(Contact).where(Contact.phone == phone))
        assert contact is not None
        deal = await s.scalar(select(Deal).where(Deal.contact_id == contact.id))
        tasks = (
            await s.scalars(select(Task).where(Task.contact_id == contact.id).order_by(Task.id))
        ).all()
    assert deal is not None
    return contact, deal, list(tasks)


async def test_the_owner_answers_a_new_caller_the_next_call_rings_the_manager_who_got_it(
    office: Database,  # noqa: F811
) -> None:
    await DbCallSink(office).store(
        inbound("o.1", answered_by="PJSIP/200", rung=("PJSIP/101", "PJSIP/102", "PJSIP/200"))
    )
    contact, deal, tasks = await _lead_of(office)
    assert contact.responsible_manager_id == deal.responsible_manager_id == ANNA
    assert [(t.purpose, t.responsible_manager_id) for t in tasks] == [("new_lead", ANNA)]
    assert "answered by Owner (owner)" in tasks[0].comment
    # The client calls again: Анна's phone rings first, alone — not the owner's.
    async with office.reader() as s:
        directory = await load_directory(s)
        view = await find_contact_view(s, CLIENT)
    again = plan(IncomingCall("again.1", CLIENT), directory, view, T0 + timedelta(days=3))
    assert [t.endpoint for t in again.steps[0].targets] == ["PJSIP/101"]


async def test_bosses_answering_new_callers_hand_the_leads_round_the_managers(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    for i, boss in enumerate(["PJSIP/103", "PJSIP/103", "PJSIP/200", "PJSIP/103"]):
        await sink.store(
            inbound(
                f"h.{i}", at=T0 + timedelta(minutes=i), answered_by=boss, number=f"+7916555000{i}"
            )
        )
    async with office.reader() as s:
        tasks = (await s.scalars(select(Task).order_by(Task.id))).all()
        deals = (await s.scalars(select(Deal).order_by(Deal.id))).all()
    assert [t.responsible_manager_id for t in tasks] == [ANNA, BORIS, ANNA, BORIS]
    assert [d.responsible_manager_id for d in deals] == [ANNA, BORIS, ANNA, BORIS]
    assert "answered by Head (head of sales)" in tasks[0].comment


async def test_the_manager_with_fewest_open_leads_gets_the_next_one(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    # Анна answers two new callers herself (two open leads); Борис none.
    for i in range(2):
        await sink.store(inbound(f"f.{i}", answered_by="PJSIP/101", number=f"+7916444000{i}"))
    # Two more answered by the head: both go to Борис (0, then 1 open lead against Анна's 2).
    for i in range(2, 4):
        await sink.store(inbound(f"f.{i}", answered_by="PJSIP/103", number=f"+7916444000{i}"))
    async with office.reader() as s:
        owners = [d.responsible_manager_id for d in await s.scalars(select(Deal).order_by(Deal.id))]
    assert owners == [ANNA, ANNA, BORIS, BORIS]


async def test_a_manager_who_answers_keeps_the_lead(office: Database) -> None:  # noqa: F811
    await DbCallSink(office).store(
        inbound("m.1", answered_by="PJSIP/102", rung=("PJSIP/101", "PJSIP/102", "PJSIP/103"))
    )
    contact, deal, tasks = await _lead_of(office)
    assert contact.responsible_manager_id == deal.responsible_manager_id == BORIS
    assert [t.responsible_manager_id for t in tasks] == [BORIS]
    assert "answered by" not in tasks[0].comment


async def test_keep_answerer_setting_keeps_todays_behaviour(office: Database) -> None:  # noqa: F811
    sink = DbCallSink(office, LeadSettings(assign_answered_by_boss="keep_answerer"))
    await sink.store(inbound("k.1", answered_by="PJSIP/103"))
    contact, deal, tasks = await _lead_of(office)
    assert contact.responsible_manager_id == deal.responsible_manager_id == HEAD
    assert [t.responsible_manager_id for t in tasks] == [HEAD]


async def test_no_manager_on_duty_the_lead_falls_back_to_the_head_of_sales(
    office: Database,  # noqa: F811
) -> None:
    async with office.transaction() as s:
        for endpoint in ("PJSIP/101", "PJSIP/102"):
            (await staff.get_manager(s, endpoint)).active = False
    await DbCallSink(office).store(inbound("n.1", answered_by="PJSIP/200"))
    contact, deal, tasks = await _lead_of(office)
    assert contact.responsible_manager_id == deal.responsible_manager_id == HEAD
    assert "answered by Owner (owner)" in tasks[0].comment


async def test_missed_new_numbers_go_round_the_managers_not_to_the_head(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office)
    for i in range(3):
        await sink.store(inbound(f"x.{i}", answered_by=None, number=f"+7916333000{i}"))
    async with office.reader() as s:
        tasks = (await s.scalars(select(Task).order_by(Task.id))).all()
        contacts = (await s.scalars(select(Contact).order_by(Contact.id))).all()
    assert [(t.purpose, t.responsible_manager_id) for t in tasks] == [
        ("callback", ANNA),
        ("callback", BORIS),
        ("callback", ANNA),
    ]
    assert [c.responsible_manager_id for c in contacts] == [ANNA, BORIS, ANNA]


async def test_head_of_sales_can_still_be_chosen_for_missed_new_numbers(
    office: Database,  # noqa: F811
) -> None:
    sink = DbCallSink(office, LeadSettings(new_number_callback_owner="head_of_sales"))
    await sink.store(inbound("y.1", answered_by=None))
    contact, deal, tasks = await _lead_of(office)
    assert contact.responsible_manager_id == deal.responsible_manager_id == HEAD
    assert [t.responsible_manager_id for t in tasks] == [HEAD]


async def test_pick_fair_manager_excludes_and_says_none_when_nobody_is_left(
    office: Database,  # noqa: F811
) -> None:
    async with office.reader() as s:
        directory = await load_directory(s)
        sales = directory.departments[0].id
        assert await pick_fair_manager(s, directory, sales, T0) == ANNA
        assert await pick_fair_manager(s, directory, sales, T0, exclude=[ANNA]) == BORIS
        assert await pick_fair_manager(s, directory, sales, T0, exclude=[ANNA, BORIS]) is None
        assert all(m.role is not Role.MANAGER for m in directory.managers if m.id in (HEAD, OWNER))


async def test_a_head_of_another_department_hands_the_lead_to_that_departments_manager(
    office: Database,  # noqa: F811
) -> None:
    async with office.transaction() as s:
        wholesale = await staff.add_department(s, "Опт", "Europe/Moscow")
        vera = await staff.add_manager(s, name="Вера", endpoint="PJSIP/301", department=wholesale)
        await staff.add_manager(
            s, name="Глеб", endpoint="PJSIP/302", role=Role.HEAD_OF_SALES, department=wholesale
        )
        vera_id = vera.id
    await DbCallSink(office).store(inbound("w.1", answered_by="PJSIP/302"))
    contact, deal, tasks = await _lead_of(office)
    assert contact.responsible_manager_id == deal.responsible_manager_id == vera_id
    assert "answered by Глеб (head of sales)" in tasks[0].comment
