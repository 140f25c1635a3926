"""Departments, their working hours and holidays, and the managers who answer the phones."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.inputs import EXTENSION, match_manager, name_key
from models.errors import Duplicate, InputError, NotFound
from models.tables import Department, Holiday, Manager, WorkingHours
from router.directory import Role

_ENDPOINT = re.compile(r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_endpoint(text: str, technology: str) -> str:
    """'101' with technology PJSIP → 'PJSIP/101'; 'SIP/101' stays as it is."""
    value = text.strip()
    if "/" not in value:
        if not EXTENSION.match(value):
            raise InputError(f"invalid phone extension {text!r}")
        value = f"{technology}/{value}"
    if not _ENDPOINT.match(value):
        raise InputError(f"invalid Asterisk endpoint {text!r}: expected e.g. PJSIP/101 or SIP/101")
    return value


def parse_role(text: str) -> Role:
    value = text.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"head": Role.HEAD_OF_SALES, "head_of_sales": Role.HEAD_OF_SALES}
    if value in aliases:
        return aliases[value]
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role {text!r}: choose one of {choices}") from None


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name!r} (use e.g. Europe/Moscow)") from None
    return name


def check_email(email: str | None) -> str | None:
    if email is None or email == "":
        return None
    if not _EMAIL.match(email):
        raise InputError(f"invalid e-mail address {email!r}")
    return email


async def add_department(
    session: AsyncSession, name: str, timezone: str = "Europe/Moscow"
) -> Department:
    name = name.strip()
    if not name:
        raise InputError("a department needs a name")
    if await session.scalar(select(Department).where(Department.name == name)):
        raise Duplicate(f"department {name!r} already exists")
    department = Department(name=name, timezone=check_timezone(timezone))
    session.add(department)
    await session.flush()
    return department


async def get_department(session: AsyncSession, ref: str | int) -> Department:
    text = str(ref).strip()
    query = select(Department).where(
        Department.id == int(text) if text.isdigit() else Department.name == text
    )
    department = await session.scalar(query)
    if department is None:
        raise NotFound(f"no department {text!r}")
    return department


async def list_departments(session: AsyncSession) -> Sequence[Department]:
    return (await session.scalars(select(Department).order_by(Department.name))).all()


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_HINT = "expected e.g. 'mon-fri 09:00-18:00', 'mon-sun 00:00-24:00' or 'mon-fri 22:00-06:00'"
END_OF_DAY = time.max  # 24:00 as stored: the end of the local day (core/worktime.py)


def _clock(text: str, *, end: bool) -> time:
    """'09:00' → 09:00; as an end, '24:00' → END_OF_DAY."""
    if end and text.strip() in ("24:00", "24:00:00"):
        return END_OF_DAY
    value = time.fromisoformat(text.strip())
    if value.tzinfo is not None:
        raise ValueError
    return value


def _day_span(text: str) -> list[int]:
    """'mon-fri' → [0..4]; 'fri-mon' wraps over the weekend → [4, 5, 6, 0]; 'sat' → [5]."""
    first, _, last = text.lower().partition("-")
    start, stop = _DAYS.index(first), _DAYS.index(last or first)
    return [(start + i) % 7 for i in range((stop - start) % 7 + 1)]


def _merge(intervals: list[tuple[time, time]]) -> list[tuple[time, time]]:
    """Overlapping or touching intervals of one day as one (the schedule is their union)."""
    merged: list[tuple[time, time]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def parse_hours(spec: str) -> dict[int, list[tuple[time, time]]]:
    """'mon-fri 09:00-18:00; sat 10:00-14:00' → weekday → intervals.

    `24:00` ends a day (stored as END_OF_DAY); an end at or before the start is an overnight
    shift: 'mon-fri 22:00-06:00' is Mon 22:00-24:00 + Tue 00:00-06:00, … Fri 22:00-24:00 +
    Sat 00:00-06:00 (an end of 00:00 means midnight: '18:00-00:00' is 18:00-24:00). Intervals
    of one day that overlap or touch are merged."""
    week: dict[int, list[tuple[time, time]]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            day_part, *ranges = part.split()
            span = _day_span(day_part)
            if not ranges:
                raise ValueError
            pieces: list[tuple[int, time, time]] = []  # (days after the shift's day, start, end)
            for item in ranges:
                start_text, end_text = item.split("-")
                start, end = _clock(start_text, end=False), _clock(end_text, end=True)
                if start == end:
                    raise ValueError
                if end > start:
                    pieces.append((0, start, end))
                else:  # overnight: to midnight, then the next morning's tail
                    pieces.append((0, start, END_OF_DAY))
                    if end != time.min:
                        pieces.append((1, time.min, end))
        except ValueError:
            raise InputError(f"invalid working hours {part!r}: {_HOURS_HINT}") from None
        for day in span:
            for later, start, end in pieces:
                week.setdefault((day + later) % 7, []).append((start, end))
    if not week:
        raise InputError("no working hours given")
    return {day: _merge(intervals) for day, intervals in sorted(week.items())}


def _clock_text(value: time) -> str:
    return "24:00" if value == END_OF_DAY else f"{value:%H:%M}"


def format_hours(week: dict[int, list[tuple[time, time]]]) -> str:
    """The stored week as people write it: a night shift's two halves joined back into one
    ('Mon 22:00-06:00'), 24:00 as 24:00; '' for no hours."""
    days = [sorted(week.get(day, ())) for day in range(7)]
    joined: set[int] = set()  # days whose last interval runs on into the next morning
    for day, intervals in enumerate(days):
        following = days[(day + 1) % 7]
        if (
            intervals
            and following
            and intervals[-1][1] == END_OF_DAY
            and intervals[-1][0] != time.min
            and following[0][0] == time.min
            and following[0][1] != END_OF_DAY
        ):
            joined.add(day)
    out: list[str] = []
    for day, intervals in enumerate(days):
        for index, (start, end) in enumerate(intervals):
            if index == 0 and (day - 1) % 7 in joined:
                continue  # the tail of the night before, printed with it
            if index == len(intervals) - 1 and day in joined:
                end = days[(day + 1) % 7][0][1]
            out.append(f"{_DAYS[day].title()} {_clock_text(start)}-{_clock_text(end)}")
    return "; ".join(out)


async def set_hours(session: AsyncSession, department: Department, spec: str) -> None:
    week = parse_hours(spec)
    await session.refresh(department, ["hours"])
    department.hours.clear()
    await session.flush()
    for day, intervals in sorted(week.items()):
        for start, end in intervals:
            department.hours.append(WorkingHours(weekday=day, starts_at=start, ends_at=end))
    await session.flush()


async def add_holiday(session: AsyncSession, department: Department, day: date) -> None:
    exists = await session.scalar(
        select(Holiday).where(Holiday.department_id == department.id, Holiday.day == day)
    )
    if exists:
        raise Duplicate(f"{day.isoformat()} is already a holiday of {department.name!r}")
    session.add(Holiday(department_id=department.id, day=day))
    await session.flush()


async def remove_holiday(session: AsyncSession, department: Department, day: date) -> None:
    row = await session.scalar(
        select(Holiday).where(Holiday.department_id == department.id, Holiday.day == day)
    )
    if row is None:
        raise NotFound(f"{day.isoformat()} is not a holiday of {department.name!r}")
    await session.delete(row)
    await session.flush()


def check_department_name(name: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if not name:
        raise InputError("a department needs a name")
    if len(name) > 120:
        raise InputError(f"a department name is at most 120 characters ({len(name)} given)")
    return name


async def rename_department(session: AsyncSession, department: Department, name: str) -> str:
    """Rename; the old name is returned. Another department's name (in any case) is refused."""
    new = check_department_name(name)
    for other in await session.scalars(select(Department).where(Department.id != department.id)):
        if name_key(other.name) == name_key(new):
            raise Duplicate(f"department {other.name!r} already exists")
    old, department.name = department.name, new
    await session.flush()
    return old


async def delete_department(session: AsyncSession, department: Department) -> int:
    """Delete a department with its hours, holidays and lines. Refused while active managers
    belong to it (move them first) or while it still has lines (a caller dialling one would
    silently ring the default department); refused for the default department while others
    exist. Its inactive managers keep their history and lose the department: their count is
    returned."""
    members = list(
        await session.scalars(
            select(Manager).where(Manager.department_id == department.id).order_by(Manager.id)
        )
    )
    active = [m for m in members if m.active]
    if active:
        listed = ", ".join(f"{m.name} (#{m.id})" for m in active)
        raise InputError(
            f"department {department.name!r} still has {len(active)} active manager(s): {listed}; "
            "move them first (managers edit … --department) or deactivate them"
        )
    await session.refresh(department, ["dids"])
    if department.dids:
        numbers = ", ".join(d.number for d in department.dids)
        raise InputError(
            f"department {department.name!r} still has line(s) {numbers}; "
            "remove them first (departments did remove) or give them to another department"
        )
    if department.is_default:
        others = await session.scalar(select(Department.id).where(Department.id != department.id))
        if others is not None:
            raise InputError(
                f"department {department.name!r} is the default one; make another the default "
                "first (departments default …)"
            )
    for manager in members:
        manager.department_id = None
    await session.delete(department)
    await session.flush()
    return len(members)


async def add_manager(
    session: AsyncSession,
    *,
    name: str,
    endpoint: str,
    role: Role = Role.MANAGER,
    department: Department | None = None,
    email: str | None = None,
) -> Manager:
    name = await check_manager_name(session, name)
    if await session.scalar(select(Manager).where(Manager.endpoint == endpoint)):
        raise Duplicate(f"endpoint {endpoint} already belongs to another manager")
    manager = Manager(
        name=name,
        endpoint=endpoint,
        role=role.value,
        department_id=department.id if department else None,
        email=check_email(email),
        active=True,
    )
    session.add(manager)
    await session.flush()
    return manager


async def check_manager_name(
    session: AsyncSession, name: str, exclude_id: int | None = None
) -> str:
    """The name, trimmed, if no other active manager bears it (in any spelling); else Duplicate."""
    name = " ".join(unicodedata.normalize("NFC", name).split())
    if not name:
        raise InputError("a manager needs a name")
    key = name_key(name)
    for other in await session.scalars(select(Manager).where(Manager.active.is_(True))):
        if other.id != exclude_id and name_key(other.name) == key:
            raise Duplicate(
                f"an active manager is already called {other.name!r} (#{other.id}); "
                "give the new one a distinguishable name"
            )
    return name


async def get_manager(
    session: AsyncSession,
    ref: str | int,
    technology: str = "PJSIP",
    *,
    prefer_active: bool = True,
) -> Manager:
    """A manager by '#id', endpoint, extension or name: `crm.inputs.match_manager`'s rules over
    every manager (a sales department's few). `technology` is kept for callers; extensions
    match every one."""
    everyone = (await session.scalars(select(Manager).order_by(Manager.id))).all()
    return match_manager(ref, everyone, prefer_active=prefer_active)


async def list_managers(
    session: AsyncSession, *, include_inactive: bool = True
) -> Sequence[Manager]:
    query = select(Manager).order_by(Manager.id)
    if not include_inactive:
        query = query.where(Manager.active.is_(True))
    return (await session.scalars(query)).all()
