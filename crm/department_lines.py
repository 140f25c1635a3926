"""A department's lines (the numbers callers dial, DIDs) and the default department.

A line is stored in E.164, normalised like every phone number (`core/phones.py`), so that the
router matches the number Asterisk reports however the carrier spells it; the database keeps a
number with one department (unique) and one default department (a partial unique index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.phones import PhoneNumberError, normalize_phone
from models.errors import Duplicate, InputError, NotFound
from models.tables import Department, DepartmentDid


def parse_did(text: str, region: str = "RU") -> str:
    """'8 495 123-45-67' → '+74951234567'; InputError when it is not a phone number."""
    try:
        return normalize_phone(text, region)
    except PhoneNumberError as exc:
        raise InputError(f"a line (DID) must be a phone number: {exc}") from None


def parse_dids(texts: Iterable[str], region: str = "RU") -> list[str]:
    """Each number in E.164, in the order given; InputError for one given twice."""
    numbers: list[str] = []
    for text in texts:
        number = parse_did(text, region)
        if number in numbers:
            raise InputError(f"line {number} is given twice")
        numbers.append(number)
    return numbers


async def add_did(session: AsyncSession, department: Department, number: str) -> None:
    """Give `department` the line `number` (E.164); Duplicate when any department has it."""
    owner = await session.scalar(
        select(Department).join(DepartmentDid).where(DepartmentDid.number == number)
    )
    if owner is not None:
        whose = "this department" if owner.id == department.id else f"department {owner.name!r}"
        raise Duplicate(f"line {number} already belongs to {whose}")
    session.add(DepartmentDid(department_id=department.id, number=number))
    await session.flush()


async def remove_did(session: AsyncSession, department: Department, number: str) -> None:
    row = await session.scalar(
        select(DepartmentDid).where(
            DepartmentDid.department_id == department.id, DepartmentDid.number == number
        )
    )
    if row is None:
        raise NotFound(f"line {number} is not a line of department {department.name!r}")
    await session.delete(row)
    await session.flush()


async def set_default(session: AsyncSession, department: Department) -> None:
    """Make `department` the default one (and no other)."""
    await session.execute(
        update(Department)
        .where(Department.is_default.is_(True), Department.id != department.id)
        .values(is_default=False)
    )
    department.is_default = True
    await session.flush()


async def lines_by_department(session: AsyncSession) -> dict[int, Sequence[str]]:
    """Every department's lines, in number order: {department id: numbers}."""
    lines: dict[int, list[str]] = {}
    for row in await session.scalars(select(DepartmentDid).order_by(DepartmentDid.number)):
        lines.setdefault(row.department_id, []).append(row.number)
    return dict(lines)
