"""Two contacts that are one client merged into one; a contact deleted.

Merging moves the other contact's deals, tasks and calls to the kept one and deletes the other,
in the caller's one transaction. The kept contact keeps its name and phone (a missing name is
taken from the other). The merged client has one responsible (crm/ownership.py): the kept
contact's, else the other's, unless the caller names one; every open deal and its open tasks
follow it as in `contacts assign`. At most one open call-back task per contact: when both had
one, the kept contact's stands and the other's is cancelled with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.ownership import assign_client, check_assignable
from models.errors import InputError
from models.tables import Call, Contact, Deal, Manager, Task
from models.values import TaskPurpose, TaskStatus


@dataclass(frozen=True)
class Merged:
    deals: int
    tasks: int
    calls: int
    cancelled_callbacks: int
    responsible_id: int | None


@dataclass(frozen=True)
class Held:
    """What refers to a contact."""

    deals: int
    calls: int

    @property
    def anything(self) -> bool:
        return bool(self.deals or self.calls)


async def held_by(session: AsyncSession, contact: Contact) -> Held:
    deals = await session.scalar(
        select(func.count()).select_from(Deal).where(Deal.contact_id == contact.id)
    )
    calls = await session.scalar(
        select(func.count()).select_from(Call).where(Call.contact_id == contact.id)
    )
    return Held(int(deals or 0), int(calls or 0))


async def merge_contacts(
    session: AsyncSession,
    keep: Contact,
    other: Contact,
    *,
    responsible: Manager | None = None,
    closed_statuses: Sequence[str],
    now: datetime,
    actor: str = "cli",
) -> Merged:
    """Fold `other` into `keep` (see the module's notes); `other` is deleted."""
    if keep.id == other.id:
        raise InputError(f"contact #{keep.id} cannot be merged with itself")
    if responsible is not None:
        check_assignable(responsible, "clients")
    owner_id = (
        responsible.id
        if responsible is not None
        else keep.responsible_manager_id or other.responsible_manager_id
    )
    cancelled = await _one_open_callback(session, keep, other, now)
    deals = await _move(session, Deal, other.id, keep.id)
    tasks = await _move(session, Task, other.id, keep.id)
    calls = await _move(session, Call, other.id, keep.id)
    if not keep.name and other.name:
        keep.name = other.name
    await session.execute(delete(Contact).where(Contact.id == other.id))
    session.expunge(other)
    await session.flush()
    if owner_id is not None:
        manager = await session.get(Manager, owner_id)
        if manager is not None and manager.active:
            await assign_client(
                session, keep, manager, closed_statuses=closed_statuses, now=now, actor=actor
            )
        elif keep.responsible_manager_id is None:
            keep.responsible_manager_id = owner_id  # as it was: nobody active to move it to
    await session.flush()
    return Merged(deals, tasks, calls, cancelled, keep.responsible_manager_id)


async def _move(session: AsyncSession, table: type[Deal | Task | Call], old: int, new: int) -> int:
    result = await session.execute(
        update(table)
        .where(table.contact_id == old)
        .values(contact_id=new)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _one_open_callback(
    session: AsyncSession, keep: Contact, other: Contact, now: datetime
) -> int:
    """Cancel the other's open call-back task when the kept contact has one (one per contact)."""

    def open_callback(contact_id: int) -> object:
        return select(Task).where(
            Task.contact_id == contact_id,
            Task.status == TaskStatus.OPEN.value,
            Task.purpose == TaskPurpose.CALLBACK.value,
        )

    if (await session.scalars(open_callback(keep.id))).first() is None:
        return 0
    count = 0
    for task in await session.scalars(open_callback(other.id)):  # type: ignore[call-overload]
        task.status = TaskStatus.CANCELLED.value
        task.closed_at = now
        task.close_reason = f"contact merged into #{keep.id}, whose call-back task stands"
        count += 1
    await session.flush()
    return count


async def delete_contact(session: AsyncSession, contact: Contact, *, force: bool = False) -> Held:
    """Delete a contact. One with deals or calls is refused unless `force`: then its deals go
    with it (their tasks, history and notes) and its calls stay, no longer linked to a contact
    (a call is the PBX's record and is never deleted)."""
    held = await held_by(session, contact)
    if held.anything and not force:
        raise InputError(
            f"contact #{contact.id} has {held.deals} deal(s) and {held.calls} call(s); "
            "merge it into another contact (`contacts merge`), or pass --force to delete it with "
            "its deals (its calls are kept, unlinked)"
        )
    await session.execute(
        update(Call)
        .where(Call.contact_id == contact.id)
        .values(contact_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Deal).where(Deal.contact_id == contact.id))
    await session.execute(delete(Contact).where(Contact.id == contact.id))
    session.expunge(contact)
    await session.flush()
    return held
