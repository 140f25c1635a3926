"""Assemble the owner's daily report from the queries: one read-only session, plain data out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from crm.callbacks import escalation_mode, escalation_note
from models.db import Database

from . import queries as q
from .alerts import activity_drops, shift_history
from .model import (
    Alert,
    CallFigures,
    DailyReport,
    Escalation,
    GroupRow,
    HourPoint,
    InboundFigures,
    Person,
    RecoveryFigures,
    RungFigures,
    TaskFigures,
    TrendPoint,
    Unrecovered,
    Window,
    WorkingDays,
)
from .periods import cut_window, day_window, day_windows, hour_windows, same_weekday_windows

NO_DEPARTMENT = "(no department)"
NOBODY = "(no manager)"


async def build_daily(db: Database, day: date, now: datetime, settings: Settings) -> DailyReport:
    """The report for local `day`; recoveries and open tasks as of `now`."""
    tz = ZoneInfo(settings.timezone)
    short = settings.report.short_abandon_seconds
    window = day_window(day, tz)
    async with db.reader() as s:
        people = await q.people(s)
        departments = await q.departments(s)
        company = (await q.activity(s, [window])).get((0, None), CallFigures())
        inbound = with_callers(
            (await q.inbound(s, [window], short)).get((0, None), InboundFigures()),
            (await q.callers(s, [window])).get(0),
        )
        recovery = (await q.recovery(s, [window], now)).get((0, None), RecoveryFigures())
        managers = await manager_rows(s, window, now, short, people)
        depts = await department_rows(s, window, now, departments)
        hours = await _hours(s, day, tz, short)
        trend = await _trend(s, day, tz, short, settings.report.trend_days)
        alerts = await _alerts(s, day, window, now, tz, settings, people, departments)
        unrecovered, total = await _unrecovered(s, day, tz, now, settings, people)
        escalations = await _escalations(s, window, tz, people)
        task_totals = _sum_tasks(await q.tasks(s, window, now, "company"))
    return DailyReport(
        day=day,
        timezone=settings.timezone,
        generated_at=now,
        complete=now >= window.end,
        short_abandon_seconds=short,
        calls=company,
        inbound=inbound,
        recovery=recovery,
        departments=depts,
        managers=managers,
        hours=hours,
        trend=trend,
        alerts=alerts,
        escalations=escalations,
        unrecovered=unrecovered,
        unrecovered_total=total,
        tasks=task_totals,
    )


async def manager_rows(
    s: AsyncSession,
    window: Window,
    now: datetime,
    short: float,
    people: Mapping[int, Person],
    include_nobody: bool = False,
) -> list[GroupRow]:
    """Every active manager, and anyone who has left but has figures in the window."""
    calls = await q.activity(s, [window], "manager")
    waits = await q.inbound(s, [window], short, "manager")
    rung = await q.rung(s, [window], "manager")
    tasks = await q.tasks(s, window, now, "manager")
    keys = {k for (_, k) in calls} | {k for (_, k) in rung} | set(tasks)
    rows = []
    for person in sorted(
        people.values(), key=lambda p: (p.department is None, p.department or "", p.name, p.id)
    ):
        if not person.active and person.id not in keys:
            continue
        rows.append(
            GroupRow(
                key=person.id,
                label=person.name,
                calls=calls.get((0, person.id), CallFigures()),
                rung=rung.get((0, person.id), RungFigures()),
                tasks=tasks.get(person.id, TaskFigures()),
                inbound=waits.get((0, person.id)),
                active=person.active,
            )
        )
    if include_nobody and (0, None) in calls:
        rows.append(GroupRow(None, NOBODY, calls[(0, None)]))
    return rows


async def department_rows(
    s: AsyncSession,
    window: Window,
    now: datetime,
    departments: Mapping[int, str],
    include_nobody: bool = False,
) -> list[GroupRow]:
    """Every department, managers without one (if they did anything), and optionally nobody's."""
    calls = await q.activity(s, [window], "department")
    rung = await q.rung(s, [window], "department")
    tasks = await q.tasks(s, window, now, "department")
    rows = [
        GroupRow(
            key=dept_id,
            label=name,
            calls=calls.get((0, dept_id), CallFigures()),
            rung=rung.get((0, dept_id), RungFigures()),
            tasks=tasks.get(dept_id, TaskFigures()),
        )
        for dept_id, name in sorted(departments.items(), key=lambda d: d[1])
    ]
    none = q.NO_DEPARTMENT
    if (0, none) in calls or (0, none) in rung or none in tasks:
        rows.append(
            GroupRow(
                none,
                NO_DEPARTMENT,
                calls.get((0, none), CallFigures()),
                rung.get((0, none), RungFigures()),
                tasks.get(none, TaskFigures()),
            )
        )
    if include_nobody and (0, None) in calls:
        rows.append(GroupRow(None, NOBODY, calls[(0, None)]))
    return rows


async def _hours(s: AsyncSession, day: date, tz: ZoneInfo, short: float) -> list[HourPoint]:
    windows = hour_windows(day, tz)
    calls = await q.activity(s, windows)
    inbound = await q.inbound(s, windows, short, waits=False)
    points = []
    for i, w in enumerate(windows):
        c = calls.get((i, None), CallFigures())
        inb = inbound.get((i, None), InboundFigures())
        points.append(HourPoint(w.label, inb.answered, inb.missed, c.made))
    return points


async def _trend(
    s: AsyncSession, day: date, tz: ZoneInfo, short: float, days: int
) -> list[TrendPoint]:
    windows = day_windows(day - timedelta(days=days - 1), day, tz)
    inbound = await q.inbound(s, windows, short, waits=False)
    points = []
    for i, w in enumerate(windows):
        f = inbound.get((i, None), InboundFigures())
        points.append(
            TrendPoint(date.fromisoformat(w.label), f.offered, f.missed, f.lcr, f.lcr_without_short)
        )
    return points


def with_callers(figures: InboundFigures, callers: tuple[int, int] | None) -> InboundFigures:
    """`figures` with the per-caller counts of `q.callers` (None: nobody with a number called)."""
    count, lost = callers or (0, 0)
    return replace(figures, callers=count, callers_lost=lost)


async def _alerts(
    s: AsyncSession,
    day: date,
    window: Window,
    now: datetime,
    tz: ZoneInfo,
    settings: Settings,
    people: Mapping[int, Person],
    departments: Mapping[int, str],
) -> list[Alert]:
    """Activity drops of departments and active managers on shift today (definitions.py)."""
    cut, complete = cut_window(window, day, now, tz)
    upto = None if complete else cut.end.astimezone(tz).time()
    weeks = settings.alerts.baseline_weeks
    history = same_weekday_windows(day, weeks, tz, upto)
    if not history:
        return []
    days = [date.fromisoformat(w.label) for w in history]
    calendars = await q.working_days(s, min(days), day)
    # Whether a manager worked a baseline day is judged on the whole day, however far today is.
    worked = (
        None
        if upto is None
        else await q.activity(s, same_weekday_windows(day, weeks, tz, None), "manager")
    )
    weekday = day.strftime("%A")
    alerts: list[Alert] = []
    for by, subjects in (
        ("department", {k: (f"department {v}", k) for k, v in departments.items()}),
        ("manager", {p.id: (p.name, p.department_id) for p in people.values() if p.active}),
    ):
        today = await q.activity(s, [cut], by)  # type: ignore[arg-type]
        before = await q.activity(s, history, by)  # type: ignore[arg-type]
        for key, (subject, dept_id) in subjects.items():
            calendar = calendars.get(dept_id, WorkingDays()) if dept_id else WorkingDays()
            if not calendar.open_on(day):
                continue  # a holiday or a day off: nobody is expected at work
            whole = before if worked is None else worked
            presence = (
                [whole.get((i, key), CallFigures()).calls > 0 for i in range(len(days))]
                if by == "manager"
                else None
            )
            figures = [before.get((i, key), CallFigures()) for i in range(len(days))]
            past = shift_history(days, figures, calendar, presence)
            alerts += activity_drops(
                subject, today.get((0, key), CallFigures()), past, settings.alerts, weekday, weeks
            )
    return alerts


async def _unrecovered(
    s: AsyncSession,
    day: date,
    tz: ZoneInfo,
    now: datetime,
    settings: Settings,
    people: Mapping[int, Person],
) -> tuple[list[Unrecovered], int]:
    lookback = settings.report.unrecovered_lookback_days
    first = day - timedelta(days=max(lookback - 1, 0))
    span = Window("lookback", day_window(first, tz).start, day_window(day, tz).end)
    rows, total = await q.unrecovered(s, span, now, settings.report.unrecovered_limit)
    contact_ids = [r.contact_id for r in rows if r.contact_id is not None]
    tasks = {t.contact_id: t for t in await q.open_callbacks(s, contact_ids)}
    contacts: dict[int, Any] = await q.contacts(s, contact_ids)
    result = []
    for r in rows:
        task = tasks.get(r.contact_id) if r.contact_id is not None else None
        contact = contacts.get(r.contact_id) if r.contact_id is not None else None
        owner_id = (
            task.responsible_id if task else (contact.responsible_manager_id if contact else None)
        )
        owner = people.get(owner_id) if owner_id is not None else None
        result.append(
            Unrecovered(
                number=r.number,
                contact_name=contact.name if contact else None,
                missed_calls=r.missed_calls,
                first_missed_at=r.first_missed_at,
                last_missed_at=r.last_missed_at,
                age_seconds=max((now - r.first_missed_at).total_seconds(), 0.0),
                responsible=_person_label(owner),
                task_id=task.task_id if task else None,
                task_due_at=task.due_at if task else None,
                overdue=bool(task and task.due_at < now),
                escalated=bool(task and task.escalated_at is not None),
            )
        )
    return result, total


async def _escalations(
    s: AsyncSession, window: Window, tz: ZoneInfo, people: Mapping[int, Person]
) -> list[Escalation]:
    def name(manager_id: int | None) -> str | None:
        person = people.get(manager_id) if manager_id is not None else None
        return person.name if person else None

    return [
        Escalation(
            task_id=row.task_id,
            number=row.phone,
            responsible=_person_label(people.get(row.responsible_id)),
            due_at=row.due_at,
            escalated_at=row.escalated_at,
            note=escalation_note(
                at=row.escalated_at,
                due_at=row.due_at,
                held=name(row.from_id) or "?",
                target=name(row.to_id),
                mode=escalation_mode(row.to_id, row.check_task_id),
                tz=tz,
            ),
        )
        for row in await q.escalated(s, window)
    ]


def _person_label(person: Person | None) -> str | None:
    if person is None:
        return None
    return person.name if person.active else f"{person.name} (left)"


def _sum_tasks(by_key: Mapping[Any, TaskFigures]) -> TaskFigures:
    figures = list(by_key.values())
    return TaskFigures(
        sum(f.open for f in figures),
        sum(f.overdue for f in figures),
        sum(f.done_on_time for f in figures),
        sum(f.done_late for f in figures),
    )
