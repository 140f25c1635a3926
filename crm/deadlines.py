"""The calendar the CRM's deadlines are counted in: the working hours (days, holidays, time zone)
of the responsible manager's department. The arithmetic itself is `core/worktime.py`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import LeadSettings
from models.directory import load_directory
from router.directory import Directory, WorkingHours

# `leads.min_lead_minutes` when a caller has no settings at hand.
DEFAULT_MIN_LEAD = timedelta(minutes=LeadSettings().min_lead_minutes)


def department_hours(directory: Directory, department_id: int | None) -> WorkingHours:
    """The manager's department's hours; else the default department's, else the first one's;
    round the clock when there is no department at all."""
    department = (
        directory.department(department_id)
        or directory.department(directory.default_department_id)
        or (directory.departments[0] if directory.departments else None)
    )
    return department.hours if department else WorkingHours.always()


async def load_department_hours(session: AsyncSession, department_id: int | None) -> WorkingHours:
    return department_hours(await load_directory(session), department_id)
