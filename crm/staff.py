"""Departments, their working hours and holidays, and the managers who answer the phones."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import Duplicate, InputError, NotFound
from models.tables import Department, Holiday, Manager, WorkingHours
from router.directory import Role

TECHNOLOGIES = ("PJSIP", "SIP", "IAX2", "DAHDI", "Local")
_ENDPOINT = re.compile(r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[A-Za-z0-9_.@-]{1,64}$")
_EXTENSION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_endpoint(text: str, technology: str) -> str:
    """'101' with technology PJSIP → 'PJSIP/101'; 'SIP/101' stays as it is."""
    value = text.strip()
    if "/" not in value:
        if not _EXTENSION.match(value):
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


def parse_hours(spec: str) -> dict[int, list[tuple[time, time]]]:
    """'mon-fri 09:00-18:00; sat 10:00-14:00' → weekday → intervals."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    week: dict[int, list[tuple[time, time]]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            day_part, *ranges = part.split()
            first, _, last = day_part.lower().partition("-")
            span = range(days.index(first), days.index(last or first) + 1)
            if not ranges:
                raise ValueError
            intervals = []
            for item in ranges:
                start_text, end_text = item.split("-")
                start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
                if start >= end:
                    raise ValueError
                intervals.append((start, end))
        except ValueError:
            raise InputError(
                f"invalid working hours {part!r}: expected e.g. 'mon-fri 09:00-18:00'"
            ) from None
        for day in span:
            week.setdefault(day, []).extend(intervals)
    if not week:
        raise InputError("no working hours given")
    return week


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


def name_key(name: str) -> str:
    """What two spellings of one name share: Unicode NFC, case folded, whitespace collapsed
    ('анна  смирнова', a decomposed 'ё' and 'Анна Смирнова' are one key)."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    return " ".join(folded.split())


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


class Ambiguous(InputError):
    """A reference matched several managers; the message lists them."""


async def get_manager(
    session: AsyncSession,
    ref: str | int,
    technology: str = "PJSIP",
    *,
    prefer_active: bool = True,
) -> Manager:
    """A manager by '#id', endpoint ('PJSIP/101'), extension ('101': on any technology, so it
    finds SIP/101 too) or name (any case, Unicode form or spacing).

    Several matches: the one active manager among them when `prefer_active`, else Ambiguous
    listing the candidates. `technology` is kept for callers; extensions match every one."""
    text = str(ref).strip()
    if isinstance(ref, int) or text.startswith("#"):
        number = text.lstrip("#")
        manager = await session.get(Manager, int(number)) if number.isdigit() else None
        if manager is None:
            raise NotFound(f"no manager {text!r}")
        return manager
    if "/" in text:
        tech, _, rest = text.partition("/")
        tech = next((t for t in TECHNOLOGIES if t.lower() == tech.lower()), tech)
        found = list(
            await session.scalars(select(Manager).where(Manager.endpoint == f"{tech}/{rest}"))
        )
    elif text.isdigit():
        found = await _by_extension(session, text)
    else:
        key = name_key(text)
        everyone = await session.scalars(select(Manager).order_by(Manager.id))
        found = [m for m in everyone if name_key(m.name) == key]
        if not found and _EXTENSION.match(text):
            found = await _by_extension(session, text)
    if not found:
        raise NotFound(f"no manager {text!r}")
    if len(found) > 1 and prefer_active:
        active = [m for m in found if m.active]
        found = active if len(active) == 1 else found
    if len(found) > 1:
        listed = "; ".join(
            f"#{m.id} {m.name} ({m.endpoint}{'' if m.active else ', inactive'})" for m in found
        )
        raise Ambiguous(f"{text!r} matches {len(found)} managers: {listed}; name one by #id")
    return found[0]


async def _by_extension(session: AsyncSession, extension: str) -> list[Manager]:
    endpoints = [f"{tech}/{extension}" for tech in TECHNOLOGIES]
    return list(
        await session.scalars(
            select(Manager).where(Manager.endpoint.in_(endpoints)).order_by(Manager.id)
        )
    )


async def list_managers(
    session: AsyncSession, *, include_inactive: bool = True
) -> Sequence[Manager]:
    query = select(Manager).order_by(Manager.id)
    if not include_inactive:
        query = query.where(Manager.active.is_(True))
    return (await session.scalars(query)).all()
