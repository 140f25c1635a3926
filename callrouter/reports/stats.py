"""`callrouter stats`: the report's figures for any period, per manager, department or day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from core.settings import Settings
from models.db import Database

from . import queries as q
from .daily import department_rows, manager_rows, with_callers
from .model import (
    CallFigures,
    GroupRow,
    InboundFigures,
    RecoveryFigures,
    StatsTable,
    TaskFigures,
)
from .periods import day_windows, period_window

Grouping = Literal["manager", "department", "day"]


async def build_stats(
    db: Database, first: date, last: date, by: Grouping, now: datetime, settings: Settings
) -> StatsTable:
    """Figures for local days `first`..`last` inclusive; recoveries and open tasks as of `now`."""
    tz = ZoneInfo(settings.timezone)
    short = settings.report.short_abandon_seconds
    period = period_window(first, last, tz)
    windows = day_windows(first, last, tz)
    async with db.reader() as s:
        callers = await q.callers(s, windows)
        if by == "manager":
            rows = await manager_rows(s, period, now, short, await q.people(s), True)
        elif by == "department":
            rows = await department_rows(s, period, now, await q.departments(s), True)
        else:
            calls = await q.activity(s, windows)
            inbound = await q.inbound(s, windows, short)
            recovery = await q.recovery(s, windows, now)
            rows = [
                GroupRow(
                    key=w.label,
                    label=w.label,
                    calls=calls.get((i, None), CallFigures()),
                    inbound=with_callers(inbound.get((i, None), InboundFigures()), callers.get(i)),
                    recovery=recovery.get((i, None), RecoveryFigures()),
                )
                for i, w in enumerate(windows)
            ]
        tasks = list((await q.tasks(s, period, now, "company")).values())
        total = GroupRow(
            key=None,
            label="total",
            calls=(await q.activity(s, [period])).get((0, None), CallFigures()),
            inbound=with_callers(
                (await q.inbound(s, [period], short)).get((0, None), InboundFigures()),
                (sum(n for n, _ in callers.values()), sum(lost for _, lost in callers.values())),
            ),
            recovery=(await q.recovery(s, [period], now)).get((0, None), RecoveryFigures()),
            tasks=tasks[0] if tasks else TaskFigures(),
        )
    return StatsTable(
        first_day=first,
        last_day=last,
        timezone=settings.timezone,
        by=by,
        generated_at=now,
        short_abandon_seconds=short,
        rows=rows,
        total=total,
    )
