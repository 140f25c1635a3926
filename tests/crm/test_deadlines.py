"""Deadlines a person can meet: counted in the working time of the responsible manager's
department (its days, holidays and time zone), never sooner than the minimum lead time, and
never in the past unless the person says so."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.settings import LeadSettings
from crm import automation, contacts, deals, staff
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Task
from models.values import DealSource, TaskType
from tests.sink.test_call_sink import inbound

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
LEADS = LeadSettings()


def moscow(*args: int) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


async def deal_of(db: Database, *, timezone: str = "Europe/Moscow", holiday: date | None = None):
    """A department (mon–fri 09–18 in `timezone`), its manager Анна, a client and a new deal."""
    async with db.transaction() as s:
        sales = await staff.add_department(s, "Продажи", timezone)
        await staff.set_hours(s, sales, "mon-fri 09:00-18:00")
        if holiday is not None:
            await staff.add_holiday(s, sales, holiday)
        anna = await staff.add_manager(s, name="Анна", endpoint="PJSIP/101", department=sales)
        client = await contacts.add_contact(s, "+79161234567", region="RU", responsible=anna)
        deal = await deals.create_deal(
            s, client, source=DealSource.MANUAL, now=datetime(2026, 1, 1, tzinfo=UTC)
        )
        return deal.id


async def move(db: Database, deal_id: int, status: str, at: datetime) -> list[datetime]:
    """Move the deal at `at`; the deadlines of the tasks the rules gave, in UTC."""
    async with db.transaction() as s:
        _, tasks = await deals.set_status(
            s,
            await deals.get_deal(s, deal_id),
            status,
            statuses=LEADS.deal_statuses,
            closed_statuses=LEADS.closed_statuses,
            now=at.astimezone(UTC),
        )
        return [t.due_at for t in tasks]


async def test_a_proposal_sent_on_friday_afternoon_is_due_on_monday(db: Database) -> None:
    deal_id = await deal_of(db)
    # The default rule: "proposal sent" → call the client within 1 day. A working day, so not
    # Saturday 15:00 but Monday 15:00.
    due = await move(db, deal_id, "proposal_sent", moscow(2026, 11, 27, 15, 0))
    assert due == [moscow(2026, 11, 30, 15, 0)]


async def test_a_holiday_is_not_a_working_day_for_a_rule(db: Database) -> None:
    deal_id = await deal_of(db, holiday=date(2026, 11, 30))
    due = await move(db, deal_id, "proposal_sent", moscow(2026, 11, 27, 15, 0))
    assert due == [moscow(2026, 12, 1, 15, 0)]


async def test_a_rule_counts_the_department_s_own_clock_across_the_spring_change(
    db: Database,
) -> None:
    # Berlin moves its clocks on Sunday 29 March: Friday 15:00 CET is 14:00 UTC, Monday 15:00
    # CEST is 13:00 UTC — a working day later is 71 real hours, not 72.
    deal_id = await deal_of(db, timezone="Europe/Berlin")
    due = await move(db, deal_id, "proposal_sent", berlin(2026, 3, 27, 15, 0))
    assert due == [datetime(2026, 3, 30, 13, 0, tzinfo=UTC)]


async def test_a_short_rule_at_closing_time_leaves_the_minimum_working_time(db: Database) -> None:
    deal_id = await deal_of(db)
    async with db.transaction() as s:
        await automation.add_rule(
            s,
            name="thank",
            on_status="in_progress",
            task_type=TaskType.CALL,
            due_after=timedelta(minutes=10),
            comment="Call {contact_name}",
            statuses=LEADS.deal_statuses,
        )
    # 17:55 on a Friday: five minutes left today, so the 30 minutes end on Monday at 09:25.
    due = await move(db, deal_id, "in_progress", moscow(2026, 11, 27, 17, 55))
    assert due == [moscow(2026, 11, 30, 9, 25)]


async def office(db: Database) -> None:
    async with db.transaction() as s:
        sales = await staff.add_department(s, "Продажи", "Europe/Moscow")
        await staff.set_hours(s, sales, "mon-fri 09:00-18:00")
        await staff.add_manager(s, name="Анна", endpoint="PJSIP/101", department=sales)


def call_ending_at(end: datetime) -> datetime:
    return (end - timedelta(seconds=65)).astimezone(UTC)  # an answered `inbound` lasts 65 s


async def qualify_due(db: Database, leads: LeadSettings) -> datetime:
    await office(db)
    # A new caller; Анна hangs up at 17:59:30 on a Thursday.
    await DbCallSink(db, leads).store(
        inbound("5001.1", at=call_ending_at(moscow(2026, 11, 26, 17, 59, 30)))
    )
    async with db.reader() as s:
        task = await s.scalar(select(Task))
    assert task is not None and task.purpose == "new_lead" and task.responsible_manager_id == 1
    return task.due_at


async def test_a_lead_answered_at_17_59_30_is_due_the_next_morning(db: Database) -> None:
    # Not in 30 seconds: 30 minutes of working time, on Friday morning.
    assert await qualify_due(db, LeadSettings()) == moscow(2026, 11, 27, 9, 29, 30)


async def test_the_minimum_lead_time_is_a_setting(db: Database) -> None:
    assert await qualify_due(db, LeadSettings(min_lead_minutes=0)) == moscow(2026, 11, 26, 18, 0)


@pytest.fixture
def cli_office(cli):
    assert cli("departments", "add", "Продажи", "--hours", "mon-fri 09:00-18:00").code == 0
    assert cli("managers", "add", "Анна", "--phone", "101", "--department", "Продажи").code == 0
    assert cli("contacts", "add", "+79161234567", "--responsible", "101").code == 0
    assert cli("deals", "add", "+79161234567").code == 0
    return cli


def add_task(cli, due: str, *extra: str):
    return cli(
        "tasks",
        "add",
        "--deal",
        "1",
        "--responsible",
        "101",
        "--due",
        due,
        "--type",
        "call",
        "--comment",
        "call the client",
        *extra,
    )


def test_a_task_due_in_the_past_is_refused_and_nothing_written(cli_office, table_counts) -> None:
    before = table_counts()
    result = add_task(cli_office, "2020-01-01 10:00")
    assert result.code == 2
    assert result.err.startswith("callrouter: error: the deadline is ")
    assert "in the past" in result.err and "--allow-past" in result.err
    assert result.err.count("\n") == 1
    assert table_counts() == before


def test_allow_past_records_work_that_is_already_overdue(cli_office) -> None:
    assert add_task(cli_office, "2020-01-01 10:00", "--allow-past").code == 0
    assert add_task(cli_office, "+1h").code == 0
    listed = json.loads(cli_office("tasks", "list", "--json").out)
    assert [(t["due"], t["overdue"]) for t in listed][0] == ("2020-01-01 10:00", True)
    assert [t["overdue"] for t in listed] == [True, False]
