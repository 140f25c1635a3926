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
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, bindparam, func, literal_column, select, union_all

from core.worktime import local_instant
from crm.access import Viewer
from crm.missed_board import DEFAULT_LOOKBACK, MissedEntry, missed_board
from models.fast_reads import FastReader
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


_MANAGER_TIMEZONE = (
    select(Department.timezone)
    .join(Manager, Manager.department_id == Department.id)
    .where(Manager.id == bindparam("manager_id"))
)


async def manager_timezone(reads: FastReader, manager_id: int | None, default: str) -> str:
    """The time zone of the manager's department, else `default` (the company's)."""
    if manager_id is None:
        return default
    row = await reads.first(_MANAGER_TIMEZONE, {"manager_id": manager_id})
    return (row[0] if row else None) or default


def _section(number: int, limited: bool) -> Select[Any]:
    """The open tasks of one section, soonest first (at most `limit` when `limited`), each with
    the section's size: the index on responsible, status, due gives both, in due order, and
    the size is an uncorrelated sub-query the database answers once."""
    due = Task.due_at.type
    bounds = [
        (None, bindparam("now", type_=due)),
        (bindparam("now", type_=due), bindparam("start_tomorrow", type_=due)),
        (bindparam("start_tomorrow", type_=due), bindparam("end_tomorrow", type_=due)),
    ][number]
    where = [
        Task.responsible_manager_id == bindparam("manager_id"),
        Task.status == TaskStatus.OPEN.value,
        Task.due_at < bounds[1],
    ]
    if bounds[0] is not None:
        where.append(Task.due_at >= bounds[0])
    total = select(func.count()).select_from(Task).where(*where).scalar_subquery()
    rows = (
        select(
            literal_column(str(number), Integer).label("section"),
            total.label("total"),
            Task.id,
            Task.type,
            Task.purpose,
            Task.due_at,
            Task.comment,
            Task.deal_id,
            Task.contact_id,
        )
        .where(*where)
        .order_by(Task.due_at, Task.id)
    )
    if limited:
        rows = rows.limit(bindparam("limit"))
    inner = rows.subquery()  # a member of UNION ALL with its own ORDER BY / LIMIT (SQLite)
    return select(*inner.c)


def _day_tasks(limited: bool) -> Select[Any]:
    """One statement: the three sections' tasks (0 overdue, 1 today, 2 tomorrow), each with its
    section's size, and the deal and client of each task shown. Bound: manager_id, now,
    start_tomorrow, end_tomorrow (and limit). Not window functions over every open task: a
    manager with hundreds overdue would have them all ranked on every visit."""
    tasks = union_all(*(_section(n, limited) for n in range(3))).subquery()
    return (
        select(
            tasks.c.section,
            tasks.c.total,
            tasks.c.id,
            tasks.c.type,
            tasks.c.purpose,
            tasks.c.due_at,
            tasks.c.comment,
            Deal.id,
            Deal.title,
            Deal.status,
            Contact.id,
            Contact.name,
            Contact.phone,
        )
        .join(Deal, Deal.id == tasks.c.deal_id)
        .join(Contact, Contact.id == tasks.c.contact_id)
        .order_by(tasks.c.section, tasks.c.due_at, tasks.c.id)
    )


# Built once: My day is every manager's home page, asked again and again (each statement runs
# on the driver itself, models/fast_reads.py).
_DAY_TASKS = _day_tasks(limited=False)
_DAY_TASKS_LIMITED = _day_tasks(limited=True)


async def my_day(
    reads: FastReader,
    manager_id: int | None,
    now: datetime,
    *,
    default_timezone: str,
    lookback: timedelta = DEFAULT_LOOKBACK,
    limit: int | None = None,
    timezone: str | None = None,
) -> MyDay:
    """The manager's day as of `now`; empty for someone who is no manager (an admin). With
    `limit`, at most that many tasks per section and misses (the totals count them all).
    `timezone`: the manager's, when the caller has read it already (else it is looked up)."""
    zone_name = timezone or await manager_timezone(reads, manager_id, default_timezone)
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    start_tomorrow = local_instant(today + timedelta(days=1), time(0), zone)
    end_tomorrow = local_instant(today + timedelta(days=2), time(0), zone)
    if manager_id is None:
        return MyDay(zone_name, today, (), (), (), (), 0)
    query = _DAY_TASKS if limit is None else _DAY_TASKS_LIMITED
    params = {
        "manager_id": manager_id,
        "now": now,
        "start_tomorrow": start_tomorrow,
        "end_tomorrow": end_tomorrow,
    }
    if limit is not None:
        params["limit"] = limit
    sections: tuple[list[DayTask], ...] = ([], [], [])
    counts = [0, 0, 0]
    for row in await reads.rows(query, params):
        counts[row[0]] = row[1]
        sections[row[0]].append(DayTask(*row[2:]))
    board = await missed_board(
        reads,
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
