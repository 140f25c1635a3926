"""The deal card and the call card: plain frozen data, read in one session.

The CLI prints them as text or JSON and a web page renders the same objects; neither asks the
database itself. Names are the managers' as they are now (departed ones included); times are
aware UTC, for the renderer to show in the company's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import NotFound
from models.tables import Call, Contact, Deal, DealStatusChange, Manager, Task


@dataclass(frozen=True)
class CardContact:
    id: int
    phone: str
    name: str | None


@dataclass(frozen=True)
class StatusEntry:
    """One step of a deal's status history; `from_status` is None for the first."""

    at: datetime
    from_status: str | None
    to_status: str
    by: str


@dataclass(frozen=True)
class TaskLine:
    id: int
    type: str
    status: str
    due_at: datetime
    responsible: str | None
    comment: str
    close_reason: str | None


@dataclass(frozen=True)
class CallLine:
    """A call on a deal card; `manager` is who answered it, else whose activity it is."""

    id: int
    started_at: datetime
    direction: str
    disposition: str
    manager: str | None
    ring_seconds: float
    talk_seconds: float
    recording: str | None


@dataclass(frozen=True)
class DealCard:
    id: int
    title: str | None
    status: str
    source: str
    responsible: str | None
    created_at: datetime
    contact: CardContact
    history: tuple[StatusEntry, ...]
    tasks: tuple[TaskLine, ...]
    calls: tuple[CallLine, ...]  # the deal's and its contact's, oldest first


@dataclass(frozen=True)
class LegLine:
    """One endpoint rung for a call."""

    endpoint: str
    manager: str | None
    ring_seconds: float
    answered: bool
    dial_status: str | None


@dataclass(frozen=True)
class CallCard:
    id: int
    system: str
    linkedid: str
    direction: str
    number: str | None  # E.164, None when the number was withheld or unparsable
    number_raw: str | None
    caller_name: str | None
    dialed: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    ring_seconds: float
    talk_seconds: float
    disposition: str
    missed: bool
    abandoned: bool
    after_hours: bool
    answered_by: str | None
    manager: str | None
    recording: str | None
    contact_id: int | None
    deal_id: int | None
    recovered_at: datetime | None
    legs: tuple[LegLine, ...]


async def deal_card(session: AsyncSession, deal_id: int) -> DealCard:
    """The deal with its contact, status history, tasks and calls; NotFound if there is none."""
    deal = await session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(f"no deal #{deal_id}")
    contact = await session.get(Contact, deal.contact_id)
    assert contact is not None  # a foreign key, cascading on delete
    names = await _manager_names(session)
    history = await session.scalars(
        select(DealStatusChange)
        .where(DealStatusChange.deal_id == deal.id)
        .order_by(DealStatusChange.id)
    )
    tasks = await session.scalars(select(Task).where(Task.deal_id == deal.id).order_by(Task.id))
    calls = await session.scalars(
        select(Call)
        .where((Call.deal_id == deal.id) | (Call.contact_id == contact.id))
        .order_by(Call.started_at)
    )
    return DealCard(
        id=deal.id,
        title=deal.title,
        status=deal.status,
        source=deal.source,
        responsible=_name(names, deal.responsible_manager_id),
        created_at=deal.created_at,
        contact=CardContact(contact.id, contact.phone, contact.name),
        history=tuple(
            StatusEntry(h.changed_at, h.from_status, h.to_status, h.changed_by) for h in history
        ),
        tasks=tuple(_task_line(t, names) for t in tasks),
        calls=tuple(_call_line(c, names) for c in calls),
    )


async def call_card(session: AsyncSession, call_id: int) -> CallCard:
    """The call with every endpoint it rang; NotFound if there is none."""
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call #{call_id}")
    await session.refresh(call, ["legs"])
    names = await _manager_names(session)
    return CallCard(
        id=call.id,
        system=call.system,
        linkedid=call.linkedid,
        direction=call.direction,
        number=call.external_number,
        number_raw=call.external_number_raw,
        caller_name=call.caller_name,
        dialed=call.dialed_number,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        ring_seconds=call.ring_seconds,
        talk_seconds=call.talk_seconds,
        disposition=call.disposition,
        missed=call.missed,
        abandoned=call.abandoned,
        after_hours=call.after_hours,
        answered_by=_name(names, call.answered_by_manager_id),
        manager=_name(names, call.manager_id),
        recording=call.recording_file,
        contact_id=call.contact_id,
        deal_id=call.deal_id,
        recovered_at=call.recovered_at,
        legs=tuple(
            LegLine(
                leg.endpoint,
                _name(names, leg.manager_id),
                leg.ring_seconds,
                leg.answered,
                leg.dial_status,
            )
            for leg in call.legs
        ),
    )


def _task_line(task: Task, names: dict[int, str]) -> TaskLine:
    return TaskLine(
        id=task.id,
        type=task.type,
        status=task.status,
        due_at=task.due_at,
        responsible=_name(names, task.responsible_manager_id),
        comment=task.comment,
        close_reason=task.close_reason,
    )


def _call_line(call: Call, names: dict[int, str]) -> CallLine:
    return CallLine(
        id=call.id,
        started_at=call.started_at,
        direction=call.direction,
        disposition=call.disposition,
        manager=_name(names, call.answered_by_manager_id or call.manager_id),
        ring_seconds=call.ring_seconds,
        talk_seconds=call.talk_seconds,
        recording=call.recording_file,
    )


async def _manager_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(Manager.id, Manager.name))
    return {manager_id: name for manager_id, name in rows.all()}


def _name(names: dict[int, str], manager_id: int | None) -> str | None:
    return names.get(manager_id) if manager_id is not None else None
