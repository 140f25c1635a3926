"""Deals and their status history (the deal card is crm/views.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm.automation import fire_rules
from crm.inputs import check_status
from crm.ownership import Moved, assign_client, cancel_open_tasks, check_assignable
from models.errors import InputError, NotFound
from models.tables import Contact, Deal, DealStatusChange, Manager, Task
from models.values import DealSource


async def create_deal(
    session: AsyncSession,
    contact: Contact,
    *,
    source: DealSource,
    now: datetime,
    responsible: Manager | None = None,
    title: str | None = None,
    actor: str = "cli",
    status: str = "new",
) -> Deal:
    """A new deal for the contact, for `responsible` or else the contact's responsible.

    Callers that name a `responsible` other than the contact's move the client with
    `assign_deal` afterwards (one responsible per client)."""
    if responsible is not None:
        check_assignable(responsible, "deals")
    deal = Deal(
        contact_id=contact.id,
        responsible_manager_id=(responsible.id if responsible else contact.responsible_manager_id),
        title=title,
        status=status,
        source=source.value,
        created_at=now,
        updated_at=now,
    )
    session.add(deal)
    await session.flush()
    session.add(
        DealStatusChange(
            deal_id=deal.id, from_status=None, to_status=status, changed_by=actor, changed_at=now
        )
    )
    await session.flush()
    return deal


async def get_deal(session: AsyncSession, deal_id: int) -> Deal:
    deal = await session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(f"no deal #{deal_id}")
    return deal


async def set_status(
    session: AsyncSession,
    deal: Deal,
    status: str,
    *,
    statuses: Sequence[str],
    closed_statuses: Sequence[str],
    now: datetime,
    actor: str = "cli",
    actor_manager: Manager | None = None,
    min_lead: timedelta | None = None,
) -> tuple[DealStatusChange, list[Task]]:
    """Move the deal to `status`, record who did it, and fire the automation rules — one transaction.

    `min_lead` is `leads.min_lead_minutes`: no rule's task is due sooner than that much working
    time after `now` (the automation default when not given)."""
    new_status = check_status(status, statuses)
    if new_status == deal.status:
        raise InputError(f"deal #{deal.id} is already {new_status}")
    change = DealStatusChange(
        deal_id=deal.id,
        from_status=deal.status,
        to_status=new_status,
        changed_by=actor,
        changed_by_manager_id=actor_manager.id if actor_manager else None,
        changed_at=now,
    )
    deal.status = new_status
    deal.updated_at = now
    deal.closed_at = now if new_status in closed_statuses else None
    session.add(change)
    await session.flush()
    if new_status in closed_statuses:
        # A closed deal keeps no stale work; only what its closing rules create now.
        await cancel_open_tasks(session, deal, f"deal closed: {new_status}", now)
    lead = {} if min_lead is None else {"min_lead": min_lead}
    tasks = await fire_rules(session, deal, change, now, closed_statuses=closed_statuses, **lead)
    return change, tasks


async def assign_deal(
    session: AsyncSession,
    deal: Deal,
    manager: Manager,
    *,
    closed_statuses: Sequence[str],
    now: datetime,
    actor: str = "cli",
    keep_tasks: bool = False,
) -> Moved:
    """Make `manager` responsible for the deal — and so for its client: the contact and its
    other open deals move too (crm/ownership.py). A closed deal cannot change hands."""
    if deal.status in closed_statuses:
        raise InputError(f"deal #{deal.id} is {deal.status}: a closed deal keeps its responsible")
    contact = await session.get(Contact, deal.contact_id)
    assert contact is not None  # a foreign key, cascading on delete
    return await assign_client(
        session,
        contact,
        manager,
        closed_statuses=closed_statuses,
        now=now,
        actor=actor,
        keep_tasks=keep_tasks,
    )
