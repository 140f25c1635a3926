"""My day: a manager's open tasks — overdue first, then today's, then tomorrow's — each with its
client and deal, and their unreturned missed calls.

"Today" and "tomorrow" are calendar days in the manager's department's time zone (else the
company's); a task due later than tomorrow is not on the page. Within a section, soonest first.

With `limit`, each section holds at most that many (the most urgent: the soonest due, the
oldest miss), and the `*_total` fields say how many there are (COUNT queries, not the rows): a
manager with hundreds of overdue tasks gets a page that answers in milliseconds, with "and N
more" leading to the whole list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.worktime import local_instant
from crm.access import Viewer
from crm.missed_board import DEFAULT_LOOKBACK, MissedEntry, missed_board
from models.tables import Contact, Deal, Department, Manager, Task
from models.values import TaskStatus


@dataclass(frozen=True)
class DayTask:
    id: int
    type: str
    purpose: str
    due_at: datetime
    comment: str
    deal_id: int
    deal_title: str | None
    deal_status: str
    contact_id: int
    contact_name: str | None
    contact_phone: str


@dataclass(frozen=True)
class MyDay:
    timezone: str
    today: date
    overdue: tuple[DayTask, ...]
    due_today: tuple[DayTask, ...]
    tomorrow: tuple[DayTask, ...]
    missed: tuple[MissedEntry, ...]
    missed_total: int
    # How many tasks each section has (more than it holds when a limit cut it).
    overdue_total: int = 0
    today_total: int = 0
    tomorrow_total: int = 0


async def manager_timezone(session: AsyncSession, manager_id: int | None, default: str) -> str:
    """The time zone of the manager's department, else `default` (the company's)."""
    if manager_id is None:
        return default
    zone = await session.scalar(
        select(Department.timezone)
        .join(Manager, Manager.department_id == Department.id)
        .where(Manager.id == manager_id)
    )
    return zone or default


async def my_day(
    session: AsyncSession,
    manager_id: int | None,
    now: datetime,
    *,
    default_timezone: str,
    lookback: timedelta = DEFAULT_LOOKBACK,
    limit: int | None = None,
) -> MyDay:
    """The manager's day as of `now`; empty for someone who is no manager (an admin). With
    `limit`, at most that many tasks per section and misses (the totals count them all)."""
    zone_name = await manager_timezone(session, manager_id, default_timezone)
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    start_tomorrow = local_instant(today + timedelta(days=1), time(0), zone)
    end_tomorrow = local_instant(today + timedelta(days=2), time(0), zone)
    if manager_id is None:
        return MyDay(zone_name, today, (), (), (), (), 0)
    # One statement: each task's section, its rank there and the section's size (window
    # functions over the manager's open tasks, by the index on responsible, status, due), then
    # the deal and client of the ranks shown only.
    section = case((Task.due_at < now, 0), (Task.due_at < start_tomorrow, 1), else_=2)
    ranked = (
        select(
            Task.id,
            Task.type,
            Task.purpose,
            Task.due_at,
            Task.comment,
            Task.deal_id,
            Task.contact_id,
            section.label("section"),
            func.row_number()
            .over(partition_by=section, order_by=(Task.due_at, Task.id))
            .label("rank"),
            func.count().over(partition_by=section).label("total"),
        )
        .where(
            Task.responsible_manager_id == manager_id,
            Task.status == TaskStatus.OPEN.value,
            Task.due_at < end_tomorrow,
        )
        .subquery()
    )
    query = (
        select(
            ranked.c.section,
            ranked.c.total,
            ranked.c.id,
            ranked.c.type,
            ranked.c.purpose,
            ranked.c.due_at,
            ranked.c.comment,
            Deal.id,
            Deal.title,
            Deal.status,
            Contact.id,
            Contact.name,
            Contact.phone,
        )
        .join(Deal, Deal.id == ranked.c.deal_id)
        .join(Contact, Contact.id == ranked.c.contact_id)
        .order_by(ranked.c.section, ranked.c.rank)
    )
    if limit is not None:
        query = query.where(ranked.c.rank <= limit)
    sections: tuple[list[DayTask], ...] = ([], [], [])
    counts = [0, 0, 0]
    for row in (await session.execute(query)).all():
        counts[row[0]] = row[1]
        sections[row[0]].append(DayTask(*row[2:]))
    board = await missed_board(
        session,
        Viewer("manager", manager_id, None),
        now,
        lookback=lookback,
        **({} if limit is None else {"limit": limit}),
    )
    return MyDay(
        timezone=zone_name,
        today=today,
        overdue=tuple(sections[0]),
        due_today=tuple(sections[1]),
        tomorrow=tuple(sections[2]),
        missed=board.entries,
        missed_total=board.total,
        overdue_total=counts[0],
        today_total=counts[1],
        tomorrow_total=counts[2],
    )
