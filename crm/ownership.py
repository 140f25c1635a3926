"""Who is responsible for a client: the ownership model, enforced here and nowhere else.

The rules every command and every automatic rule goes through:

- **One responsible per client.** A contact and its open deals always have the same
  responsible manager. Moving a client (`assign_client`) moves the contact, its open deals and
  the open tasks their previous holder had on them; each deal whose responsible changes gets an
  "assigned" entry in its history.
- **Only active managers get work.** `check_assignable` is the one check: a task, a contact, a
  deal or a lead is never given to a deactivated (or unknown) manager.
- **Deactivation hands work over** (`hand_over`): the leaving manager's clients, open deals and
  open tasks go to a successor or by the fair rule (`crm.assignment.pick_fair_manager`), all in
  the caller's one transaction, and the manager is deactivated in it.
- **Automatic work finds a person** (`owner_for_new_work`): a deal whose responsible is no longer
  active passes, with its contact, to the contact's responsible when they are active, else to
  the fair rule's pick in the former responsible's department.
- **A closed deal has no open work** (`cancel_open_tasks`): closing it cancels its open tasks
  with a reason ("deal closed: won").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.assignment import pick_fair_manager
from models.directory import load_directory
from models.errors import InputError
from models.tables import Contact, Deal, DealStatusChange, Manager, Task
from models.values import TaskStatus
from router.directory import Directory


def can_take_work(manager: Manager | None) -> bool:
    """The one rule of who may be given work: an existing, active manager."""
    return manager is not None and manager.active


def check_assignable(manager: Manager | None, what: str = "work") -> Manager:
    """The manager, if they can be given `what`; else InputError (one line for a person)."""
    if manager is None:
        raise InputError(f"nobody to give the {what} to: no such manager")
    if not can_take_work(manager):
        raise InputError(f"manager {manager.name!r} is deactivated and cannot be given {what}")
    return manager


@dataclass
class Moved:
    """What a change of ownership moved, per new responsible manager (by id)."""

    contacts: Counter[int] = field(default_factory=Counter)
    deals: Counter[int] = field(default_factory=Counter)
    tasks: Counter[int] = field(default_factory=Counter)

    def add(self, other: Moved) -> None:
        self.contacts.update(other.contacts)
        self.deals.update(other.deals)
        self.tasks.update(other.tasks)

    def targets(self) -> list[int]:
        return sorted(set(self.contacts) | set(self.deals) | set(self.tasks))


async def open_deals(
    session: AsyncSession, contact_id: int, closed_statuses: Collection[str]
) -> list[Deal]:
    return list(
        await session.scalars(
            select(Deal)
            .where(Deal.contact_id == contact_id, Deal.status.not_in(list(closed_statuses)))
            .order_by(Deal.id)
        )
    )


async def assign_client(
    session: AsyncSession,
    contact: Contact,
    manager: Manager,
    *,
    closed_statuses: Collection[str],
    now: datetime,
    actor: str = "cli",
    actor_manager: Manager | None = None,
    keep_tasks: bool = False,
    tasks_of: Collection[int] = (),
) -> Moved:
    """Make `manager` responsible for the contact and all its open deals.

    Open tasks on those deals held by a previous responsible (the contact's or the deal's) or by
    anyone in `tasks_of` move to `manager` too, unless `keep_tasks`; tasks given to other people
    (a head's check task) stay theirs. Each deal whose responsible changes gets an "assigned"
    history entry. Raises InputError for an inactive manager, before writing anything."""
    check_assignable(manager, "clients")
    moved = Moved()
    previous = {contact.responsible_manager_id, *tasks_of}
    if contact.responsible_manager_id != manager.id:
        contact.responsible_manager_id = manager.id
        moved.contacts[manager.id] += 1
    for deal in await open_deals(session, contact.id, closed_statuses):
        before = deal.responsible_manager_id
        previous.add(before)
        if before != manager.id:
            deal.responsible_manager_id = manager.id
            deal.updated_at = now
            session.add(
                DealStatusChange(
                    deal_id=deal.id,
                    kind="assigned",
                    from_status=deal.status,
                    to_status=deal.status,
                    from_manager_id=before,
                    to_manager_id=manager.id,
                    changed_by=actor,
                    changed_by_manager_id=actor_manager.id if actor_manager else None,
                    changed_at=now,
                )
            )
            moved.deals[manager.id] += 1
        if keep_tasks:
            continue
        holders = {m for m in previous if m is not None and m != manager.id}
        if not holders:
            continue
        for task in await session.scalars(
            select(Task).where(
                Task.deal_id == deal.id,
                Task.status == TaskStatus.OPEN.value,
                Task.responsible_manager_id.in_(sorted(holders)),
            )
        ):
            task.responsible_manager_id = manager.id
            moved.tasks[manager.id] += 1
    await session.flush()
    return moved


async def cancel_open_tasks(session: AsyncSession, deal: Deal, reason: str, now: datetime) -> int:
    """Cancel every open task of the deal with `reason`; how many there were."""
    count = 0
    for task in await session.scalars(
        select(Task).where(Task.deal_id == deal.id, Task.status == TaskStatus.OPEN.value)
    ):
        task.status = TaskStatus.CANCELLED.value
        task.closed_at = now
        task.close_reason = reason
        count += 1
    await session.flush()
    return count


async def owner_for_new_work(
    session: AsyncSession,
    deal: Deal,
    *,
    closed_statuses: Collection[str],
    now: datetime,
    actor: str,
    directory: Directory | None = None,
) -> Manager | None:
    """Who gets automatic work on the deal (a rule's task): its responsible when active.

    A deal whose responsible is deactivated (or missing) passes, with its contact, to the
    contact's responsible when they are active, else to the fair rule's pick in the former
    responsible's department; None when nobody can take it."""
    current = await _manager(session, deal.responsible_manager_id)
    if can_take_work(current):
        return current
    contact = await session.get(Contact, deal.contact_id)
    if contact is None:
        return None
    successor = await _manager(session, contact.responsible_manager_id)
    if not can_take_work(successor):
        successor = None
        if current is not None:
            directory = directory or await load_directory(session)
            picked = await pick_fair_manager(
                session, directory, current.department_id, now, exclude=(current.id,)
            )
            successor = await _manager(session, picked)
    if successor is None:
        return None
    await assign_client(
        session,
        contact,
        successor,
        closed_statuses=closed_statuses,
        now=now,
        actor=actor,
        tasks_of=(current.id,) if current is not None else (),
    )
    return successor


@dataclass(frozen=True)
class Handover:
    """What `hand_over` did: the work moved, per new responsible manager."""

    leaving: Manager
    moved: Moved
    names: dict[int, str]

    @property
    def anything(self) -> bool:
        return bool(self.moved.targets())


async def held_work(
    session: AsyncSession, manager: Manager, closed_statuses: Collection[str]
) -> tuple[list[Contact], list[Task]]:
    """The clients a manager is responsible for (their own, or through an open deal or an open
    task), and their open tasks; in id order."""
    closed = list(closed_statuses)
    contact_ids = set(
        await session.scalars(
            select(Contact.id).where(Contact.responsible_manager_id == manager.id)
        )
    )
    contact_ids |= set(
        await session.scalars(
            select(Deal.contact_id).where(
                Deal.responsible_manager_id == manager.id, Deal.status.not_in(closed)
            )
        )
    )
    tasks = list(
        await session.scalars(
            select(Task)
            .where(Task.responsible_manager_id == manager.id, Task.status == TaskStatus.OPEN.value)
            .order_by(Task.id)
        )
    )
    contact_ids |= {t.contact_id for t in tasks}
    contacts = list(
        await session.scalars(select(Contact).where(Contact.id.in_(sorted(contact_ids))))
    )
    return sorted(contacts, key=lambda c: c.id), tasks


async def hand_over(
    session: AsyncSession,
    leaving: Manager,
    *,
    successor: Manager | None,
    redistribute: bool,
    closed_statuses: Collection[str],
    now: datetime,
    actor: str = "cli",
) -> Handover:
    """Deactivate `leaving` and move their clients, open deals and open tasks, in the caller's
    transaction: to `successor`, or (`redistribute`) each client to the fair rule's pick in the
    leaving manager's department. A client whose contact belongs to another active manager stays
    theirs; the leaving manager's deals and tasks on it go to that manager (with `successor`:
    the tasks go to the successor). Raises InputError, before writing, for a missing, inactive
    or identical successor, or when the fair rule finds nobody."""
    if (successor is None) == (not redistribute):
        raise InputError(
            f"deactivating {leaving.name!r} needs a successor for their clients and tasks: "
            "give --to MANAGER or --redistribute (one of them)"
        )
    if successor is not None:
        check_assignable(successor, "the clients")
        if successor.id == leaving.id:
            raise InputError(f"{leaving.name!r} cannot hand their work over to themselves")
    contacts, tasks = await held_work(session, leaving, closed_statuses)
    if not leaving.active and not contacts:
        raise InputError(f"manager {leaving.name!r} is already deactivated and holds no work")
    leaving.active = False
    await session.flush()
    directory = await load_directory(session) if redistribute else None
    moved = Moved()
    for contact in contacts:
        owner = await _manager(session, contact.responsible_manager_id)
        keeps_owner = can_take_work(owner) and owner is not None and owner.id != leaving.id
        if keeps_owner:
            target = owner
        elif successor is not None:
            target = successor
        else:
            assert directory is not None
            picked = await pick_fair_manager(
                session, directory, leaving.department_id, now, exclude=(leaving.id,)
            )
            target = await _manager(session, picked)
            if target is None:
                raise InputError(
                    f"no active manager on shift in {leaving.name!r}'s department to take "
                    "their clients; give --to MANAGER instead"
                )
        assert target is not None
        moved.add(
            await assign_client(
                session,
                contact,
                target,
                closed_statuses=closed_statuses,
                now=now,
                actor=actor,
                keep_tasks=keeps_owner and successor is not None,
                tasks_of=(leaving.id,),
            )
        )
    # What is still theirs: tasks on other people's clients or on closed deals.
    for task in tasks:
        if task.status != TaskStatus.OPEN.value or task.responsible_manager_id != leaving.id:
            continue
        contact = next(c for c in contacts if c.id == task.contact_id)
        new_id = successor.id if successor is not None else contact.responsible_manager_id
        assert new_id is not None and new_id != leaving.id
        task.responsible_manager_id = new_id
        moved.tasks[new_id] += 1
    await session.flush()
    names = {
        m.id: m.name
        for m in await session.scalars(select(Manager).where(Manager.id.in_(moved.targets())))
    }
    return Handover(leaving, moved, names)


async def _manager(session: AsyncSession, manager_id: int | None) -> Manager | None:
    return await session.get(Manager, manager_id) if manager_id is not None else None
