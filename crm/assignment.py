"""Who gets a new lead: the one place the fair rule lives.

A *lead* is a deal that a phone call from a new caller opened (source `inbound_call` or
`missed_call`). A lead is *open* while its deal is still in status "new" (nobody has qualified
it yet). The fair rule picks, among the department's active managers (role manager) on shift at
the moment of the call:

1. the one with the fewest open leads;
2. on a tie, the one who got a lead least recently (never before counts as longest ago);
3. on a tie still, the lowest id.

So with leads qualified promptly the rule is a plain round robin, and a manager sitting on a pile
of untouched leads is passed over until the others catch up.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Deal
from models.tables import Manager as ManagerRow
from models.values import DealSource
from router.departments import default_department
from router.directory import Directory, Manager, Role

# The deals that count as leads, and the status a lead stays "open" in.
LEAD_SOURCES: tuple[str, ...] = (DealSource.INBOUND_CALL.value, DealSource.MISSED_CALL.value)
OPEN_LEAD_STATUS = "new"


def lead_department_id(directory: Directory, sales_department_id: int | None = None) -> int | None:
    """The department a call nobody in a department answered is taken to belong to: the
    default department (`routing.sales_department_id` when it names one, else the department
    marked default, else the first); None when there are no departments.

    The one place this is decided for the lead rules, so that the department the number
    dialled picks can replace it."""
    department = default_department(directory, sales_department_id).department
    return department.id if department is not None else None


def fair_candidates(
    directory: Directory, department_id: int | None, at: datetime, exclude: Collection[int] = ()
) -> list[Manager]:
    """The managers the fair rule chooses among: role manager, active, on shift at `at`, in
    the department (every department when `department_id` is None), not in `exclude`."""
    return [
        m
        for m in directory.managers
        if m.role is Role.MANAGER
        and m.active
        and m.on_shift(at)
        and (department_id is None or m.department_id == department_id)
        and m.id not in exclude
    ]


async def pick_fair_manager(
    session: AsyncSession,
    directory: Directory,
    department_id: int | None,
    at: datetime,
    *,
    exclude: Collection[int] = (),
) -> int | None:
    """The id of the manager who gets the next lead of `department_id` at `at`, or None when
    the department has no active on-shift manager (outside `exclude`).

    Reads the current leads through `session` (its pending rows included), so leads given in
    the same transaction count: calling it again after giving a lead picks the next manager."""
    candidates = await _still_active(
        session, [m.id for m in fair_candidates(directory, department_id, at, exclude)]
    )
    if not candidates:
        return None
    open_leads = func.sum(case((Deal.status == OPEN_LEAD_STATUS, 1), else_=0)).label("open_leads")
    rows = await session.execute(
        select(Deal.responsible_manager_id, open_leads, func.max(Deal.id).label("last_lead"))
        .where(Deal.responsible_manager_id.in_(candidates), Deal.source.in_(LEAD_SOURCES))
        .group_by(Deal.responsible_manager_id)
    )
    load = {manager_id: (int(count or 0), int(last or 0)) for manager_id, count, last in rows}
    return min(candidates, key=lambda mid: (*load.get(mid, (0, 0)), mid))


@dataclass(frozen=True)
class LeadAssignment:
    """Who owns a new lead, and the boss (or stranger) who answered it when that is someone else."""

    owner_id: int | None
    answered_by: Manager | None = None  # set when the answerer did not get the lead

    def answered_note(self) -> str:
        """' (answered by Жанна (head of sales))' for a task comment; '' when the owner answered."""
        if self.answered_by is None:
            return ""
        role = self.answered_by.role.value.replace("_", " ")
        return f" (answered by {self.answered_by.name} ({role}))"


async def assign_lead(
    session: AsyncSession,
    directory: Directory,
    department_id: int | None,
    at: datetime,
    *,
    answerer: Manager | None,
    answered_by_boss: str = "fair",
) -> LeadAssignment:
    """The owner of a new caller's lead (contact, deal, first task).

    A department manager who answered keeps it. Anyone else who answered (head of sales,
    owner) keeps it only with `answered_by_boss = "keep_answerer"`; otherwise — and when nobody
    answered — the fair rule picks a manager of `department_id`. With no manager on shift there
    the lead goes to the head of sales, then the owner (the department's first), then to whoever
    answered; `owner_id` is None only when the company has nobody active at all."""
    if answerer is not None and await _still_active(session, [answerer.id]):
        if answerer.role is Role.MANAGER or answered_by_boss == "keep_answerer":
            return LeadAssignment(answerer.id)
    chosen = await pick_fair_manager(session, directory, department_id, at)
    if chosen is None:
        chosen = fallback_owner_id(directory, department_id)
    if chosen is None and answerer is not None:
        chosen = answerer.id
    noted = answerer if answerer is not None and answerer.id != chosen else None
    return LeadAssignment(chosen, noted)


async def _still_active(session: AsyncSession, manager_ids: list[int]) -> list[int]:
    """Those of `manager_ids` active now. The writer's directory may be seconds old, and a
    manager deactivated meanwhile must not get a lead (their work was just handed over)."""
    if not manager_ids:
        return []
    active = set(
        await session.scalars(
            select(ManagerRow.id).where(ManagerRow.id.in_(manager_ids), ManagerRow.active.is_(True))
        )
    )
    return [mid for mid in manager_ids if mid in active]


def fallback_owner_id(directory: Directory, department_id: int | None) -> int | None:
    """No manager to give a lead to: the head of sales, then the owner — the department's own
    first, then anyone's (lowest id first)."""
    for role in (Role.HEAD_OF_SALES, Role.OWNER):
        people = directory.by_role(role)
        own = [m for m in people if m.department_id == department_id]
        for manager in (*own, *people):
            return manager.id
    return None
