"""Every figure's SQL, in SQLAlchemy Core, the same on SQLite and PostgreSQL.

Each function takes UTC windows (see `periods.py`) and a grouping, and returns plain figures
keyed by (window index, group key). Groupings: "company" (key None), "manager" (the manager
whose activity the call is; None = nobody's, e.g. a missed call), "department" (that manager's
department; 0 = a manager without one, None = nobody's).
The definitions these implement are in `definitions.py`.

Expressions that depend on bound parameters (the window CASE) are computed in an inner
subquery and grouped by its column, so PostgreSQL sees one expression, not two spellings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from models.tables import Call, CallLeg, Contact, Department, Holiday, Manager, Task
from models.tables import WorkingHours as WorkingHoursRow
from models.values import TaskPurpose, TaskStatus

from .definitions import ANSWERED, COUNTED_DIRECTIONS
from .model import (
    CallFigures,
    InboundFigures,
    Person,
    RecoveryFigures,
    RungFigures,
    TaskFigures,
    Window,
    WorkingDays,
)
from .sqlfuncs import SecondsBetween, flag, in_windows, window_index

By = Literal["company", "manager", "department"]
NO_DEPARTMENT = 0  # the department key of managers who belong to none
Key = tuple[int, Any]

_INBOUND = Call.direction == "inbound"
_OUTBOUND = Call.direction == "outbound"
_MISSED = and_(_INBOUND, Call.missed.is_(True))
_INBOUND_ANSWERED = and_(_INBOUND, Call.missed.is_(False))
_OUTBOUND_ANSWERED = and_(_OUTBOUND, Call.disposition == ANSWERED)


def _grouped_calls(by: By, manager_column: Any) -> tuple[Any, bool]:
    """The group key expression and whether `managers` must be joined for it."""
    if by == "manager":
        return manager_column, False
    if by == "department":
        # None: the call is nobody's (a missed call); 0: its manager has no department.
        department = func.coalesce(Manager.department_id, literal_column("0"))
        return case((manager_column.is_(None), None), else_=department), True
    return literal_column("NULL"), False


def _calls_base(windows: Sequence[Window], by: By, *columns: Any) -> Select[Any]:
    key, join = _grouped_calls(by, Call.manager_id)
    stmt = select(
        window_index(Call.started_at, windows).label("w"), key.label("k"), *columns
    ).select_from(Call)
    if join:
        stmt = stmt.outerjoin(Manager, Manager.id == Call.manager_id)
    return stmt.where(in_windows(Call.started_at, windows))


async def activity(
    session: AsyncSession, windows: Sequence[Window], by: By = "company"
) -> dict[Key, CallFigures]:
    """Calls made / received / answered and minutes on the line, per window and group."""
    answered = or_(_INBOUND_ANSWERED, _OUTBOUND_ANSWERED)
    rows = _calls_base(
        windows,
        by,
        flag(_OUTBOUND).label("made"),
        flag(_OUTBOUND_ANSWERED).label("made_answered"),
        flag(_INBOUND).label("received"),
        flag(_INBOUND_ANSWERED).label("received_answered"),
        case((answered, Call.talk_seconds), else_=literal_column("0.0")).label("talk"),
        case((_INBOUND_ANSWERED, Call.talk_seconds), else_=literal_column("0.0")).label("t_in"),
        case((_OUTBOUND_ANSWERED, Call.talk_seconds), else_=literal_column("0.0")).label("t_out"),
    ).where(Call.direction.in_(COUNTED_DIRECTIONS))
    inner = rows.subquery()
    stmt = select(
        inner.c.w,
        inner.c.k,
        func.sum(inner.c.made),
        func.sum(inner.c.made_answered),
        func.sum(inner.c.received),
        func.sum(inner.c.received_answered),
        func.sum(inner.c.talk),
        func.max(inner.c.talk),
        func.sum(inner.c.t_in),
        func.sum(inner.c.t_out),
    ).group_by(inner.c.w, inner.c.k)
    return {
        (w, k): CallFigures(int(a), int(b), int(c), int(d), *(float(v or 0) for v in (t, m, i, o)))
        for w, k, a, b, c, d, t, m, i, o in (await session.execute(stmt)).all()
        if w is not None
    }


async def inbound(
    session: AsyncSession,
    windows: Sequence[Window],
    short_abandon_seconds: float,
    by: By = "company",
    waits: bool = True,
) -> dict[Key, InboundFigures]:
    """Offered, answered, missed, short abandons, after-hours; time to answer when `waits`."""
    short = and_(Call.missed.is_(True), Call.abandon_seconds < short_abandon_seconds)
    rows = _calls_base(
        windows,
        by,
        flag(Call.missed.is_(True)).label("missed"),
        flag(short).label("short"),
        flag(Call.after_hours.is_(True)).label("ah"),
        flag(and_(Call.after_hours.is_(True), Call.missed.is_(True))).label("ah_missed"),
    ).where(_INBOUND)
    inner = rows.subquery()
    stmt = select(
        inner.c.w,
        inner.c.k,
        func.count(),
        func.sum(inner.c.missed),
        func.sum(inner.c.short),
        func.sum(inner.c.ah),
        func.sum(inner.c.ah_missed),
    ).group_by(inner.c.w, inner.c.k)
    answer_times = (
        await percentiles(
            session,
            _calls_base(windows, by, Call.ring_seconds.label("v")).where(_INBOUND_ANSWERED),
        )
        if waits
        else {}
    )
    result = {}
    for w, k, offered, missed, short_n, ah, ah_missed in (await session.execute(stmt)).all():
        if w is None:
            continue
        p50, p90 = answer_times.get((w, k), (None, None))
        result[(w, k)] = InboundFigures(
            offered=int(offered),
            answered=int(offered) - int(missed),
            missed=int(missed),
            short_abandons=int(short_n),
            after_hours_offered=int(ah),
            after_hours_missed=int(ah_missed),
            answer_p50=p50,
            answer_p90=p90,
        )
    return result


async def percentiles(
    session: AsyncSession, values: Select[Any], percents: tuple[int, int] = (50, 90)
) -> dict[Key, tuple[float | None, float | None]]:
    """Nearest-rank percentiles of column `v` per (w, k) of `values`, computed in SQL.

    Window functions number the sorted values of each group; the wanted ranks are
    ceil(p·n/100) = (p·n + 99) / 100 in integer division, the same on both databases.
    """
    inner = values.subquery()
    part = (inner.c.w, inner.c.k)
    ranked = select(
        inner.c.w,
        inner.c.k,
        inner.c.v,
        func.row_number().over(partition_by=part, order_by=inner.c.v).label("rn"),
        func.count().over(partition_by=part).label("n"),
    ).subquery()
    low, high = percents
    rank_low = (low * ranked.c.n + 99) // 100
    rank_high = (high * ranked.c.n + 99) // 100
    stmt = select(
        ranked.c.w, ranked.c.k, ranked.c.v, ranked.c.rn == rank_low, ranked.c.rn == rank_high
    ).where(or_(ranked.c.rn == rank_low, ranked.c.rn == rank_high))
    found: dict[Key, list[float | None]] = {}
    for w, k, v, is_low, is_high in (await session.execute(stmt)).all():
        if w is None:
            continue
        slot = found.setdefault((w, k), [None, None])
        if is_low:
            slot[0] = float(v)
        if is_high:
            slot[1] = float(v)
    return {key: (a, b) for key, (a, b) in found.items()}


async def rung(
    session: AsyncSession, windows: Sequence[Window], by: By = "manager"
) -> dict[Key, RungFigures]:
    """Inbound calls that rang a manager's phone, and those they did not pick up."""
    key, join = _grouped_calls(by, CallLeg.manager_id)
    legs = (
        select(
            window_index(Call.started_at, windows).label("w"),
            key.label("k"),
            CallLeg.call_id.label("call_id"),
            flag(CallLeg.answered.is_(True)).label("picked"),
            flag(Call.missed.is_(True)).label("missed"),
        )
        .select_from(CallLeg)
        .join(Call, Call.id == CallLeg.call_id)
        .where(_INBOUND, CallLeg.manager_id.is_not(None), in_windows(Call.started_at, windows))
    )
    if join:
        legs = legs.join(Manager, Manager.id == CallLeg.manager_id)
    leg_rows = legs.subquery()
    per_call = (
        select(
            leg_rows.c.w,
            leg_rows.c.k,
            func.max(leg_rows.c.picked).label("picked"),
            func.max(leg_rows.c.missed).label("missed"),
        )
        .group_by(leg_rows.c.w, leg_rows.c.k, leg_rows.c.call_id)
        .subquery()
    )
    stmt = select(
        per_call.c.w,
        per_call.c.k,
        func.count(),
        func.sum(1 - per_call.c.picked),
        func.sum(per_call.c.missed),
    ).group_by(per_call.c.w, per_call.c.k)
    return {
        (w, k): RungFigures(int(n), int(not_picked), int(missed))
        for w, k, n, not_picked, missed in (await session.execute(stmt)).all()
        if w is not None
    }


async def recovery(
    session: AsyncSession, windows: Sequence[Window], as_of: datetime
) -> dict[Key, RecoveryFigures]:
    """Missed calls with a number that started in each window: recovered by `as_of`, median time."""
    recovered = and_(Call.recovered_at.is_not(None), Call.recovered_at <= as_of)
    base = _calls_base(windows, "company", flag(recovered).label("recovered")).where(
        _MISSED, Call.external_number.is_not(None)
    )
    inner = base.subquery()
    stmt = select(inner.c.w, func.count(), func.sum(inner.c.recovered)).group_by(inner.c.w)
    times = await percentiles(
        session,
        _calls_base(
            windows, "company", SecondsBetween(Call.ended_at, Call.recovered_at).label("v")
        ).where(_MISSED, Call.external_number.is_not(None), recovered),
    )
    return {
        (w, None): RecoveryFigures(int(n), int(rec or 0), times.get((w, None), (None, None))[0])
        for w, n, rec in (await session.execute(stmt)).all()
        if w is not None
    }


async def tasks(
    session: AsyncSession, window: Window, as_of: datetime, by: By = "manager"
) -> dict[Any, TaskFigures]:
    """Open and overdue now; done on time / late within the window; per responsible."""
    is_open = Task.status == TaskStatus.OPEN.value
    done_in = and_(
        Task.status == TaskStatus.DONE.value,
        Task.closed_at >= window.start,
        Task.closed_at < window.end,
    )
    key, join = _grouped_calls(by, Task.responsible_manager_id)
    rows = select(
        key.label("k"),
        flag(is_open).label("open"),
        flag(and_(is_open, Task.due_at < as_of)).label("overdue"),
        flag(and_(done_in, Task.closed_at <= Task.due_at)).label("on_time"),
        flag(and_(done_in, Task.closed_at > Task.due_at)).label("late"),
    ).where(or_(is_open, done_in))
    if join:
        rows = rows.select_from(Task).join(Manager, Manager.id == Task.responsible_manager_id)
    inner = rows.subquery()
    stmt = select(
        inner.c.k,
        func.sum(inner.c.open),
        func.sum(inner.c.overdue),
        func.sum(inner.c.on_time),
        func.sum(inner.c.late),
    ).group_by(inner.c.k)
    return {
        k: TaskFigures(int(a), int(b), int(c), int(d))
        for k, a, b, c, d in (await session.execute(stmt)).all()
    }


@dataclass(frozen=True)
class UnrecoveredRow:
    number: str
    contact_id: int | None
    missed_calls: int
    first_missed_at: datetime
    last_missed_at: datetime


async def unrecovered(
    session: AsyncSession, window: Window, as_of: datetime, limit: int
) -> tuple[list[UnrecoveredRow], int]:
    """Numbers whose missed calls in `window` are not recovered by `as_of`: oldest first, total."""
    pending = or_(Call.recovered_at.is_(None), Call.recovered_at > as_of)
    grouped = (
        select(
            Call.external_number.label("number"),
            Call.contact_id.label("contact_id"),
            func.count().label("n"),
            func.min(Call.started_at).label("first"),
            func.max(Call.started_at).label("last"),
        )
        .where(
            _MISSED,
            Call.external_number.is_not(None),
            Call.started_at >= window.start,
            Call.started_at < window.end,
            pending,
        )
        .group_by(Call.external_number, Call.contact_id)
    )
    inner = grouped.subquery()
    total = await session.scalar(select(func.count()).select_from(inner))
    stmt = select(inner).order_by(inner.c.first, inner.c.number).limit(limit)
    rows = [
        UnrecoveredRow(r.number, r.contact_id, int(r.n), _utc(r.first), _utc(r.last))
        for r in (await session.execute(stmt)).all()
    ]
    return rows, int(total or 0)


@dataclass(frozen=True)
class CallbackRow:
    task_id: int
    contact_id: int
    phone: str | None
    contact_name: str | None
    contact_responsible_id: int | None
    responsible_id: int
    due_at: datetime
    escalated_at: datetime | None


def _callback_select() -> Select[Any]:
    return (
        select(
            Task.id,
            Task.contact_id,
            Contact.phone,
            Contact.name,
            Contact.responsible_manager_id,
            Task.responsible_manager_id,
            Task.due_at,
            Task.escalated_at,
        )
        .join(Contact, Contact.id == Task.contact_id)
        .where(Task.purpose == TaskPurpose.CALLBACK.value)
    )


async def open_callbacks(session: AsyncSession, contact_ids: Sequence[int]) -> list[CallbackRow]:
    """Open call-back tasks of these contacts (one each at most: the database insists)."""
    if not contact_ids:
        return []
    stmt = _callback_select().where(
        Task.status == TaskStatus.OPEN.value, Task.contact_id.in_(list(contact_ids))
    )
    return [CallbackRow(*row) for row in (await session.execute(stmt)).all()]


async def contacts(session: AsyncSession, contact_ids: Sequence[int]) -> dict[int, Any]:
    if not contact_ids:
        return {}
    stmt = select(Contact.id, Contact.name, Contact.responsible_manager_id).where(
        Contact.id.in_(list(contact_ids))
    )
    return {row.id: row for row in (await session.execute(stmt)).all()}


@dataclass(frozen=True)
class EscalationRow:
    """A call-back's escalation: who held it, who it went to (None: nobody), its check task."""

    task_id: int
    phone: str | None
    responsible_id: int
    due_at: datetime
    escalated_at: datetime
    from_id: int | None
    to_id: int | None
    check_task_id: int | None


async def escalated(session: AsyncSession, window: Window) -> list[EscalationRow]:
    """Call-back tasks escalated within the window, in order."""
    check = aliased(Task)
    stmt = (
        select(
            Task.id,
            Contact.phone,
            Task.responsible_manager_id,
            Task.due_at,
            Task.escalated_at,
            Task.escalated_from_manager_id,
            Task.escalated_to_manager_id,
            check.id,
        )
        .join(Contact, Contact.id == Task.contact_id)
        .outerjoin(check, check.escalation_of_task_id == Task.id)
        .where(
            Task.purpose == TaskPurpose.CALLBACK.value,
            Task.escalated_at >= window.start,
            Task.escalated_at < window.end,
        )
        .order_by(Task.escalated_at, Task.id)
    )
    return [EscalationRow(*row) for row in (await session.execute(stmt)).all()]


async def people(session: AsyncSession) -> dict[int, Person]:
    """Every manager, the departed included, with their department's name."""
    stmt = select(
        Manager.id,
        Manager.name,
        Manager.department_id,
        Department.name,
        Manager.role,
        Manager.active,
    ).outerjoin(Department, Department.id == Manager.department_id)
    return {
        row[0]: Person(row[0], row[1], row[2], row[3], row[4], bool(row[5]))
        for row in (await session.execute(stmt.order_by(Manager.id))).all()
    }


async def departments(session: AsyncSession) -> dict[int, str]:
    stmt = select(Department.id, Department.name).order_by(Department.id)
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


async def callers(session: AsyncSession, days: Sequence[Window]) -> dict[int, tuple[int, int]]:
    """Per day window: callers (distinct numbers that called in) and those never answered that day.

    `days` must be whole local days: the per-caller Lost Call Rate counts a caller once a day.
    A long period is asked a month at a time, so the day CASE stays short.
    """
    found: dict[int, tuple[int, int]] = {}
    for offset in range(0, len(days), _DAYS_PER_QUERY):
        chunk = await _callers(session, days[offset : offset + _DAYS_PER_QUERY])
        found.update({offset + i: figures for i, figures in chunk.items()})
    return found


_DAYS_PER_QUERY = 31


async def _callers(session: AsyncSession, days: Sequence[Window]) -> dict[int, tuple[int, int]]:
    calls = select(
        window_index(Call.started_at, days).label("w"),
        Call.external_number.label("n"),
        flag(Call.missed.is_(False)).label("got"),
    ).where(_INBOUND, Call.external_number.is_not(None), in_windows(Call.started_at, days))
    inner = calls.subquery()
    per_caller = (
        select(inner.c.w, func.max(inner.c.got).label("got"))
        .group_by(inner.c.w, inner.c.n)
        .subquery()
    )
    stmt = select(per_caller.c.w, func.count(), func.sum(1 - per_caller.c.got)).group_by(
        per_caller.c.w
    )
    return {
        int(w): (int(n), int(lost or 0))
        for w, n, lost in (await session.execute(stmt)).all()
        if w is not None
    }


async def working_days(session: AsyncSession, first: date, last: date) -> dict[int, WorkingDays]:
    """Every department's working weekdays and its holidays between `first` and `last`."""
    rows: dict[int, dict[int, list[tuple[time, time]]]] = {}
    hours = select(
        WorkingHoursRow.department_id,
        WorkingHoursRow.weekday,
        WorkingHoursRow.starts_at,
        WorkingHoursRow.ends_at,
    )
    for dept_id, weekday, starts, ends in (await session.execute(hours)).all():
        rows.setdefault(dept_id, {}).setdefault(int(weekday), []).append((starts, ends))
    weekdays = {dept_id: _open_weekdays(days) for dept_id, days in rows.items()}
    holidays: dict[int, set[date]] = {}
    off = select(Holiday.department_id, Holiday.day).where(
        Holiday.day >= first, Holiday.day <= last
    )
    for dept_id, day in (await session.execute(off)).all():
        holidays.setdefault(dept_id, set()).add(day)
    return {
        dept_id: WorkingDays(
            frozenset(weekdays[dept_id]) if dept_id in weekdays else None,
            frozenset(holidays.get(dept_id, ())),
        )
        for (dept_id,) in (await session.execute(select(Department.id))).all()
    }


def _open_weekdays(days: dict[int, list[tuple[time, time]]]) -> set[int]:
    """Weekdays on which a shift starts: the 00:00-06:00 morning end of Friday's 22:00-06:00
    night shift is stored on Saturday, yet it does not make Saturday a working day. A day whose
    only hours begin at midnight right after a shift that ran to 24:00 is such a morning end;
    a 24/7 day (00:00-24:00) is a working day of its own."""
    open_days: set[int] = set()
    for weekday, intervals in days.items():
        evening_before = days.get((weekday - 1) % 7, [])
        continues_night = any(end == time.max for _, end in evening_before)
        if any(
            start != time.min or end == time.max or not continues_night for start, end in intervals
        ):
            open_days.add(weekday)
    return open_days


def _utc(value: Any) -> datetime:
    """Aggregates (min/max) may bypass the column type on SQLite: parse and attach UTC again."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
