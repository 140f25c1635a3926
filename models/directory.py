"""Loads the router's view of the company (a `Directory`) and looks callers up, read-only.

The one place that knows which rows make a `ContactView`: the ORM session here and the routing
hot path's raw driver connections (`agi_scripts/db_source.py`) run the same `CONTACT_LOOKUP`.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours

from .db import Database
from .tables import Contact
from .tables import Department as DepartmentRow
from .tables import DepartmentDid as DepartmentDidRow
from .tables import Holiday as HolidayRow
from .tables import Manager as ManagerRow
from .tables import WorkingHours as WorkingHoursRow


async def load_directory(session: AsyncSession) -> Directory:
    """Every department with its week, holidays and lines, the default department, and every
    manager (inactive ones included): a handful of statements per load, none per call."""
    hours: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for row in await session.scalars(select(WorkingHoursRow)):
        hours[row.department_id][row.weekday].append((row.starts_at, row.ends_at))
    holidays: dict[int, set] = defaultdict(set)
    for row in await session.scalars(select(HolidayRow)):
        holidays[row.department_id].add(row.day)
    dids: dict[int, set[str]] = defaultdict(set)
    for row in await session.scalars(select(DepartmentDidRow)):
        dids[row.department_id].add(row.number)
    departments = []
    default_id = None
    for row in await session.scalars(select(DepartmentRow).order_by(DepartmentRow.id)):
        week = hours.get(row.id)
        schedule = (
            WorkingHours(
                {day: tuple(sorted(spans)) for day, spans in week.items()},
                row.timezone,
                frozenset(holidays.get(row.id, ())),
            )
            if week
            else WorkingHours.always(row.timezone)
        )
        departments.append(Department(row.id, row.name, schedule, frozenset(dids.get(row.id, ()))))
        if row.is_default:
            default_id = row.id
    managers = tuple(
        Manager(
            id=row.id,
            name=row.name,
            endpoint=row.endpoint,
            role=Role(row.role),
            department_id=row.department_id,
            active=row.active,
        )
        for row in await session.scalars(select(ManagerRow).order_by(ManagerRow.id))
    )
    return Directory(tuple(departments), managers, default_id)


# The caller look-up: one statement on the unique phone index; its columns are a ContactView's
# fields in order (`contact_view`).
CONTACT_LOOKUP = select(
    Contact.id, Contact.phone, Contact.name, Contact.responsible_manager_id
).where(Contact.phone == bindparam("phone"))


def contact_view(row: Sequence[Any] | None) -> ContactView | None:
    """The contact a `CONTACT_LOOKUP` row describes; None for no row (a new number)."""
    return ContactView(row[0], row[1], row[2], row[3]) if row is not None else None


@functools.cache
def contact_lookup_sql(backend: str) -> str:
    """`CONTACT_LOOKUP` as text for a raw driver connection, compiled once per backend:
    "sqlite" (sqlite3, one `?`) or "postgresql" (asyncpg, one `$1`); the parameter is the
    caller's E.164 phone."""
    dialect: Dialect
    if backend == "sqlite":
        from sqlalchemy.dialects.sqlite import pysqlite

        dialect = pysqlite.dialect()
    elif backend == "postgresql":
        from sqlalchemy.dialects.postgresql import asyncpg

        dialect = asyncpg.dialect()
    else:
        raise ValueError(f"no raw contact look-up for {backend!r} databases")
    return str(CONTACT_LOOKUP.compile(dialect=dialect))


async def find_contact_view(session: AsyncSession, phone_e164: str) -> ContactView | None:
    row = (await session.execute(CONTACT_LOOKUP, {"phone": phone_e164})).first()
    return contact_view(row)


class DbDirectorySource:
    """The router's read access to the database: one short read-only session per question."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load_directory(self) -> Directory:
        async with self._db.reader() as session:
            return await load_directory(session)

    async def find_contact(self, phone_e164: str) -> ContactView | None:
        async with self._db.reader() as session:
            return await find_contact_view(session, phone_e164)
