"""Lead rules: what a finished call means for the CRM.

- A new number that got through → contact + deal (inbound call) + 'qualify' task, due at the
  end of the working day, for a department manager: the one who answered, or — when a head of
  sales, the owner or a phone that is no manager's answered — one chosen by the fair rule
  (`crm/assignment.py`; `leads.assign_answered_by_boss`), the answerer named in the task.
- A known client's answered call with no open deal → a "repeat call" deal for their responsible
  manager (`leads.deal_for_repeat_calls`), so every conversation lands on a card.
- A missed inbound call → a call-back task (one open per contact; a repeat miss bumps it),
  on the open deal, or on a new deal (missed call) when the contact has none open; a client
  nobody owns goes, with the call-back, to a manager by the fair rule.
- A later answered call with that number (a call-back or the client again) that is a
  conversation (`leads.recovery_min_talk_seconds`) closes the call-back task with that call as
  its reason and marks the missed calls recovered; a shorter one is an attempt, counted in the
  task's comment (the attempts themselves are the calls: `attempt_filter`).

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

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import LeadSettings
from core.worktime import add_working_time, new_lead_deadline
from crm.assignment import LeadAssignment, assign_lead, lead_department_id, pick_fair_manager
from crm.deals import create_deal
from crm.ownership import can_take_work
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
    # (contact id, first unrecovered miss) -> short call-back attempts counted so far: asked of
    # the database once per batch, then kept current as the batch's attempts are noted.
    attempts: dict[tuple[int, datetime], int] = field(default_factory=dict)

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
    def __init__(self, settings: LeadSettings, sales_department_id: int | None = None) -> None:
        self.settings = settings
        # routing.sales_department_id: the department a call is taken to belong to (see
        # `crm.assignment.lead_department_id`).
        self.sales_department_id = sales_department_id

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

    def _department_id(self, directory: Directory, answerer: DirectoryManager | None) -> int | None:
        """The department that handled the call: the answerer's, else the sales department."""
        if answerer is not None and directory.department(answerer.department_id) is not None:
            return answerer.department_id
        return lead_department_id(directory, self.sales_department_id)

    async def _assign(
        self,
        session: AsyncSession,
        directory: Directory,
        answerer: DirectoryManager | None,
        at: datetime,
    ) -> LeadAssignment:
        return await assign_lead(
            session,
            directory,
            self._department_id(directory, answerer),
            at,
            answerer=answerer,
            answered_by_boss=self.settings.assign_answered_by_boss,
        )

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
        """A person answered. A new caller becomes a lead of a department manager (`assign_lead`),
        who owns contact and deal and gets the qualify task; a known client with no open deal gets
        a "repeat call" deal for their responsible manager; a conversation recovers misses."""
        recovered, attempt_task = await self.recover(session, work, contact, call)
        deal = work.deals.get(contact.id)
        if deal is None and is_new:
            return await self._new_lead(
                session, work, contact, answerer, call, directory, recovered
            )
        created = False
        owner = await _active(session, contact.responsible_manager_id)
        if owner is None and (deal is None or contact.responsible_manager_id is None):
            # Nobody (active) owns the client: the open deal's manager, else as a new lead.
            deal_owner = await _active(session, deal.responsible_manager_id) if deal else None
            owner_id = (
                deal_owner.id
                if deal_owner is not None
                else (await self._assign(session, directory, answerer, call.started_at)).owner_id
            )
            if owner_id is not None:
                contact.responsible_manager_id = owner_id
        if deal is None and self.settings.deal_for_repeat_calls:
            deal = await self._new_deal(
                session,
                work,
                contact,
                DealSource.REPEAT_CALL,
                call.started_at,
                contact.responsible_manager_id,
            )
            created = True
        if deal is not None and deal.responsible_manager_id is None:
            deal.responsible_manager_id = contact.responsible_manager_id
        return LeadOutcome(deal.id if deal else None, created, attempt_task, recovered)

    async def _new_lead(
        self,
        session: AsyncSession,
        work: OpenWork,
        contact: Contact,
        answerer: DirectoryManager | None,
        call: Call,
        directory: Directory,
        recovered: int,
    ) -> LeadOutcome:
        assignment = await self._assign(session, directory, answerer, call.started_at)
        owner = directory.manager(assignment.owner_id)
        if contact.responsible_manager_id is None:
            contact.responsible_manager_id = assignment.owner_id
        deal = await self._new_deal(
            session, work, contact, DealSource.INBOUND_CALL, call.started_at, assignment.owner_id
        )
        if owner is None:
            return LeadOutcome(deal.id, True, None, recovered)
        task = Task(
            deal_id=deal.id,
            contact_id=contact.id,
            responsible_manager_id=owner.id,
            due_at=new_lead_deadline(
                _hours(directory, owner.department_id),
                call.ended_at,
                timedelta(minutes=self.settings.min_lead_minutes),
            ),
            type=TaskType.CALL.value,
            comment=f"Qualify the new lead {contact.name or contact.phone}: "
            f"needs, budget, next step{assignment.answered_note()}",
            purpose=TaskPurpose.NEW_LEAD.value,
            created_by=CreatedBy.LISTENER.value,
        )
        session.add(task)
        await session.flush()
        return LeadOutcome(deal.id, True, task.id, recovered)

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
        owner = await self._callback_owner(session, contact, deal, directory, call.started_at)
        if owner is None:
            return LeadOutcome(deal.id, created, None)  # nobody at all to give it to
        # The client and the deal belong to whoever calls back, not to nobody (nor to someone
        # who left).
        if contact.responsible_manager_id != owner.id and (
            await _active(session, contact.responsible_manager_id) is None
        ):
            contact.responsible_manager_id = owner.id
        if created or deal.responsible_manager_id is None:
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
    ) -> tuple[int, int | None]:
        """An answered call with the client: a conversation (talk time at least
        `recovery_min_talk_seconds`) closes the open call-back task with `call` as its reason and
        marks earlier misses recovered; a shorter one is an attempt, noted on the open call-back.

        Returns how many misses it recovered, and the call-back task it noted an attempt on."""
        if call.talk_seconds < self.settings.recovery_min_talk_seconds:
            return 0, await self._note_attempt(session, work, contact, call)
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
            return 0, None
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
        return result.rowcount or 0, None

    async def _note_attempt(
        self, session: AsyncSession, work: OpenWork, contact: Contact, call: Call
    ) -> int | None:
        """A too-short answered call on an open call-back: its comment counts the attempts."""
        task = work.callbacks.get(contact.id)
        misses = work.unrecovered.get(contact.id, [])
        if task is None or not misses:
            return None
        key = (contact.id, min(misses))
        if key in work.attempts:
            work.attempts[key] += 1  # the calls of a batch come in id order
        else:
            work.attempts[key] = await count_attempts(
                session, contact.id, key[1], call.id, self.settings.recovery_min_talk_seconds
            )
        task.comment = self._callback_comment(contact, task.missed_calls, work.attempts[key])
        return task.id

    @staticmethod
    def _callback_comment(contact: Contact, missed: int, attempts: int = 0) -> str:
        who = f"{contact.name} ({contact.phone})" if contact.name else contact.phone
        times = "a missed call" if missed == 1 else f"{missed} missed calls"
        if attempts:
            times += (
                "; 1 short call-back attempt"
                if attempts == 1
                else (f"; {attempts} short call-back attempts")
            )
        return f"Call back {who}: {times}"

    async def _callback_owner(
        self,
        session: AsyncSession,
        contact: Contact,
        deal: Deal,
        directory: Directory,
        at: datetime,
    ) -> Manager | None:
        """The client's (or the deal's) active responsible manager; for a client nobody owns, a
        manager by the fair rule (or, with `new_number_callback_owner = "head_of_sales"`, the
        head of sales), else the head of sales, the owner, any manager."""
        for manager_id in (contact.responsible_manager_id, deal.responsible_manager_id):
            if (manager := await _active(session, manager_id)) is not None:
                return manager
        if self.settings.new_number_callback_owner == "fair":
            department_id = lead_department_id(directory, self.sales_department_id)
            chosen = await pick_fair_manager(session, directory, department_id, at)
            if (manager := await _active(session, chosen)) is not None:
                return manager
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


async def count_attempts(
    session: AsyncSession, contact_id: int, since: datetime, up_to_call_id: int, min_talk: float
) -> int:
    """Answered calls with the contact shorter than a conversation, started after `since` and
    stored no later than call `up_to_call_id`: the call-back attempts on a miss at `since`."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(Call)
            .where(*attempt_filter(contact_id, since, min_talk), Call.id <= up_to_call_id)
        )
    ) or 0


def attempt_filter(
    contact_id: int, since: datetime, min_talk: float
) -> tuple[ColumnElement[bool], ...]:
    """The conditions that make a call a short call-back attempt on a miss at `since`."""
    return (
        Call.contact_id == contact_id,
        Call.missed.is_(False),
        Call.answered_at.is_not(None),
        Call.direction.in_(("inbound", "outbound")),
        Call.talk_seconds < min_talk,
        Call.started_at > since,
    )


async def _active(session: AsyncSession, manager_id: int | None) -> Manager | None:
    """The manager `manager_id`, if there is one and they are active (read now, not cached)."""
    if manager_id is None:
        return None
    manager = await session.get(Manager, manager_id)
    return manager if can_take_work(manager) else None


def _hours(directory: Directory, department_id: int | None) -> WorkingHours:
    """The schedule deadlines are counted in: the manager's department, else the first one."""
    department = directory.department(department_id) or (
        directory.departments[0] if directory.departments else None
    )
    return department.hours if department else WorkingHours.always()
