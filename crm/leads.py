"""Lead rules: what a finished call means for the CRM.

- A new number that got through → contact + deal (inbound call) + 'qualify' task for whoever
  answered ("the quickest gets the lead"), due at the end of the working day.
- A missed inbound call → a call-back task (one open per contact; a repeat miss bumps it),
  on the open deal, or on a new deal (missed call) when the contact has none open.
- A later answered call with that number (a call-back or the client again) closes the call-back
  task with that call as its reason and marks the missed calls recovered.

Every function here runs inside the sink's transaction, after the contact rows are locked, so two
listeners handling the same number at once take turns instead of both creating a deal. The sink
writes calls in batches: what the rules look at (open deals, open call-backs, unrecovered missed
calls of the batch's contacts) is loaded once per batch into `OpenWork` and kept up to date as
the rules change it, so a call costs only the writes its rules make.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import LeadSettings
from core.worktime import add_working_time, end_of_working_day
from crm.deals import create_deal
from models.tables import Call, Contact, Deal, Manager, Task
from models.values import CreatedBy, DealSource, TaskPurpose, TaskStatus, TaskType
from router.directory import Directory, Role, WorkingHours
from router.directory import Manager as DirectoryManager


@dataclass(frozen=True)
class LeadOutcome:
    deal_id: int | None
    created_deal: bool = False
    task_id: int | None = None
    recovered_calls: int = 0


@dataclass
class OpenWork:
    """The open deals, open call-backs and unrecovered missed calls of one batch's contacts."""

    deals: dict[int, Deal] = field(default_factory=dict)  # contact id -> newest open deal
    callbacks: dict[int, Task] = field(default_factory=dict)  # contact id -> open call-back
    # contact id -> start times of its missed calls not yet recovered (usually none or a few)
    unrecovered: dict[int, list[datetime]] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, session: AsyncSession, contact_ids: Collection[int], closed_statuses: list[str]
    ) -> OpenWork:
        work = cls()
        if not contact_ids:
            return work
        ids = sorted(contact_ids)
        for deal in await session.scalars(
            select(Deal)
            .where(Deal.contact_id.in_(ids), Deal.status.not_in(closed_statuses))
            .order_by(Deal.id)
        ):
            work.deals[deal.contact_id] = deal  # ascending ids: the newest one stays
        for task in await session.scalars(
            select(Task).where(
                Task.contact_id.in_(ids),
                Task.status == TaskStatus.OPEN.value,
                Task.purpose == TaskPurpose.CALLBACK.value,
            )
        ):
            work.callbacks[task.contact_id] = task
        for contact_id, started_at in await session.execute(
            select(Call.contact_id, Call.started_at).where(
                Call.contact_id.in_(ids), Call.missed.is_(True), Call.recovered_at.is_(None)
            )
        ):
            work.unrecovered.setdefault(contact_id, []).append(started_at)
        return work


class LeadRules:
    def __init__(self, settings: LeadSettings) -> None:
        self.settings = settings

    async def _new_deal(
        self,
        session: AsyncSession,
        work: OpenWork,
        contact: Contact,
        source: DealSource,
        at: datetime,
        manager_id: int | None,
    ) -> Deal:
        deal = await create_deal(session, contact, source=source, now=at, actor="listener")
        deal.responsible_manager_id = manager_id
        work.deals[contact.id] = deal
        return deal

    async def answered_inbound(
        self,
        session: AsyncSession,
        work: OpenWork,
        contact: Contact,
        is_new: bool,
        answerer: DirectoryManager | None,
        call: Call,
        directory: Directory,
    ) -> LeadOutcome:
        """A person answered: the lead goes to them if it had nobody; missed calls recover."""
        recovered = await self.recover(session, work, contact, call)
        deal = work.deals.get(contact.id)
        if answerer is not None and contact.responsible_manager_id is None:
            contact.responsible_manager_id = answerer.id
        if deal is None and is_new:
            deal = await self._new_deal(
                session,
                work,
                contact,
                DealSource.INBOUND_CALL,
                call.started_at,
                answerer.id if answerer else None,
            )
            task_id = None
            if answerer is not None:
                hours = _hours(directory, answerer.department_id)
                task = Task(
                    deal_id=deal.id,
                    contact_id=contact.id,
                    responsible_manager_id=answerer.id,
                    due_at=end_of_working_day(hours, call.ended_at),
                    type=TaskType.CALL.value,
                    comment=f"Qualify the new lead {contact.name or contact.phone}: "
                    "needs, budget, next step",
                    purpose=TaskPurpose.NEW_LEAD.value,
                    created_by=CreatedBy.LISTENER.value,
                )
                session.add(task)
                await session.flush()
                task_id = task.id
            return LeadOutcome(deal.id, True, task_id, recovered)
        if deal is not None and deal.responsible_manager_id is None and answerer is not None:
            deal.responsible_manager_id = answerer.id
        return LeadOutcome(deal.id if deal else None, False, None, recovered)

    async def missed_inbound(
        self,
        session: AsyncSession,
        work: OpenWork,
        contact: Contact,
        call: Call,
        directory: Directory,
    ) -> LeadOutcome:
        """Nobody answered: make sure exactly one open call-back task says so."""
        work.unrecovered.setdefault(contact.id, []).append(call.started_at)
        deal = work.deals.get(contact.id)
        created = False
        if deal is None:
            deal = await self._new_deal(
                session,
                work,
                contact,
                DealSource.MISSED_CALL,
                call.started_at,
                contact.responsible_manager_id,
            )
            created = True
        existing = work.callbacks.get(contact.id)
        if existing is not None:
            existing.missed_calls += 1
            existing.last_missed_at = call.started_at
            existing.comment = self._callback_comment(contact, existing.missed_calls)
            return LeadOutcome(deal.id, created, existing.id)
        owner = await self._callback_owner(session, contact, deal)
        if owner is None:
            return LeadOutcome(deal.id, created, None)  # nobody at all to give it to
        if deal.responsible_manager_id is None:
            deal.responsible_manager_id = owner.id
        hours = _hours(directory, owner.department_id)
        task = Task(
            deal_id=deal.id,
            contact_id=contact.id,
            responsible_manager_id=owner.id,
            due_at=add_working_time(
                hours, call.ended_at, timedelta(minutes=self.settings.callback_due_minutes)
            ),
            type=TaskType.CALL.value,
            comment=self._callback_comment(contact, 1),
            purpose=TaskPurpose.CALLBACK.value,
            created_by=CreatedBy.LISTENER.value,
            missed_calls=1,
            last_missed_at=call.started_at,
        )
        session.add(task)
        await session.flush()
        work.callbacks[contact.id] = task
        return LeadOutcome(deal.id, created, task.id)

    async def recover(
        self, session: AsyncSession, work: OpenWork, contact: Contact, call: Call
    ) -> int:
        """Close the open call-back task with `call` as its reason; mark earlier misses recovered."""
        connected_at = call.answered_at or call.started_at
        task = work.callbacks.pop(contact.id, None)
        if task is not None:
            task.status = TaskStatus.DONE.value
            task.closed_at = connected_at
            task.closed_by_call_id = call.id
            task.close_reason = (
                f"{'called back' if call.direction == 'outbound' else 'client called again'}: "
                f"call #{call.id} answered"
            )
        misses = work.unrecovered.get(contact.id, [])
        if not any(started < call.started_at for started in misses):
            return 0
        work.unrecovered[contact.id] = [t for t in misses if t >= call.started_at]
        result = await session.execute(
            update(Call)
            .where(
                Call.contact_id == contact.id,
                Call.missed.is_(True),
                Call.recovered_at.is_(None),
                Call.started_at < call.started_at,
                # Only calls stored before this one, as when calls were written one at a time.
                Call.id < call.id,
            )
            .values(recovered_at=connected_at, recovered_by_call_id=call.id)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

    @staticmethod
    def _callback_comment(contact: Contact, missed: int) -> str:
        who = f"{contact.name} ({contact.phone})" if contact.name else contact.phone
        times = "a missed call" if missed == 1 else f"{missed} missed calls"
        return f"Call back {who}: {times}"

    async def _callback_owner(
        self, session: AsyncSession, contact: Contact, deal: Deal
    ) -> Manager | None:
        for manager_id in (contact.responsible_manager_id, deal.responsible_manager_id):
            if manager_id is not None:
                manager = await session.get(Manager, manager_id)
                if manager is not None and manager.active:
                    return manager
        if self.settings.new_number_callback_owner == "round_robin":
            chosen = await self._least_recently_given(session)
            if chosen is not None:
                return chosen
        for role in (Role.HEAD_OF_SALES, Role.OWNER, Role.MANAGER):
            manager = await session.scalar(
                select(Manager)
                .where(Manager.role == role.value, Manager.active.is_(True))
                .order_by(Manager.id)
                .limit(1)
            )
            if manager is not None:
                return manager
        return None

    async def _least_recently_given(self, session: AsyncSession) -> Manager | None:
        """Round robin over the department's managers: the one whose last call-back is oldest."""
        last_given = (
            select(Task.responsible_manager_id, func.max(Task.id).label("last_id"))
            .where(Task.purpose == TaskPurpose.CALLBACK.value)
            .group_by(Task.responsible_manager_id)
            .subquery()
        )
        return await session.scalar(
            select(Manager)
            .outerjoin(last_given, last_given.c.responsible_manager_id == Manager.id)
            .where(Manager.role == Role.MANAGER.value, Manager.active.is_(True))
            .order_by(func.coalesce(last_given.c.last_id, 0), Manager.id)
            .limit(1)
        )


def _hours(directory: Directory, department_id: int | None) -> WorkingHours:
    """The schedule deadlines are counted in: the manager's department, else the first one."""
    department = directory.department(department_id) or (
        directory.departments[0] if directory.departments else None
    )
    return department.hours if department else WorkingHours.always()
