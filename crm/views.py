"""The deal card and the call card: plain frozen data, read in one session.

The CLI prints them as text or JSON and a web page renders the same objects; neither asks the
database itself. Names are the managers' as they are now (departed ones included); times are
aware UTC, for the renderer to show in the company's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm.notes import NoteLine, deal_notes
from models.errors import NotFound
from models.tables import Call, Contact, Deal, DealStatusChange, Manager, Task
from models.values import TaskPurpose, TaskStatus


@dataclass(frozen=True)
class CardContact:
    id: int
    phone: str
    name: str | None


@dataclass(frozen=True)
class StatusEntry:
    """One step of a deal's history; `from_status` is None for the first. `kind` "assigned":
    the responsible changed from `from_manager` to `to_manager` (the status did not)."""

    at: datetime
    from_status: str | None
    to_status: str
    by: str
    kind: str = "status"
    from_manager: str | None = None
    to_manager: str | None = None


@dataclass(frozen=True)
class TaskLine:
    id: int
    type: str
    status: str
    due_at: datetime
    responsible: str | None
    comment: str
    close_reason: str | None
    # A call-back's short answered calls so far (ids): attempts, not yet a conversation.
    attempts: tuple[int, ...] = ()
    # For the deal card's history and the web's buttons (issue #16).
    created_at: datetime | None = None
    closed_at: datetime | None = None
    responsible_id: int | None = None
    purpose: str = "general"


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
    # The recording is named but its file is not on disk (checked when the card was built
    # with a recordings folder).
    recording_missing: bool = False
    missed: bool = False
    recovered_by_call_id: int | None = None
    # A missed call's short answered calls since (ids): call-back attempts, not a conversation.
    attempts: tuple[int, ...] = ()


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
    notes: tuple[NoteLine, ...] = ()  # oldest first; "reschedule" notes carry a task's reason
    responsible_id: int | None = None

    def timeline(self) -> tuple[HistoryItem, ...]:
        """The deal's whole history, oldest first: status changes and assignments, calls,
        tasks set and closed, notes."""
        items = [HistoryItem(h.at, h.kind, h) for h in self.history]
        items += [HistoryItem(c.started_at, "call", c) for c in self.calls]
        for t in self.tasks:
            if t.created_at is not None:
                items.append(HistoryItem(t.created_at, "task", t))
            if t.closed_at is not None:
                items.append(HistoryItem(t.closed_at, "task_closed", t))
        items += [HistoryItem(n.at, n.kind, n) for n in self.notes]
        return tuple(sorted(items, key=lambda i: i.at))


@dataclass(frozen=True)
class HistoryItem:
    """One line of a deal's history. `kind`: "status" | "assigned" (a StatusEntry), "call"
    (a CallLine), "task" | "task_closed" (a TaskLine), "note" | "reschedule" (a NoteLine)."""

    at: datetime
    kind: str
    item: StatusEntry | CallLine | TaskLine | NoteLine


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


async def deal_card(
    session: AsyncSession,
    deal_id: int,
    *,
    recordings_dir: Path | None = None,
    min_talk: float = 10.0,
    scope: ColumnElement[bool] | None = None,
    names: dict[int, str] | None = None,
) -> DealCard:
    """The deal with its contact, status history, tasks and calls; NotFound if there is none.

    With `recordings_dir`, each call says whether its recording file is missing on disk;
    answered calls shorter than `min_talk` seconds are listed as attempts on the misses and
    call-backs they followed. `scope` (crm.access.deal_filter): a deal outside it is NotFound
    too, checked in the card's first statement. `names`: every manager's name by id, when the
    caller has them already."""
    # Rows of columns, not ORM objects, and the deal with its contact in one statement: a card is
    # asked for on every click, and each statement and loaded object costs the one event loop.
    head = _DEAL_HEAD if scope is None else _DEAL_HEAD.where(scope)
    deal = (await session.execute(head, {"deal_id": deal_id})).first()
    if deal is None:
        raise NotFound(f"no deal #{deal_id}")
    contact = CardContact(deal.contact_id, deal.contact_phone, deal.contact_name)
    if names is None:
        names = await _manager_names(session)
    history = (await session.execute(_DEAL_HISTORY, {"deal_id": deal.id})).all()
    tasks = await session.execute(_DEAL_TASKS, {"deal_id": deal.id})
    calls = await session.execute(_DEAL_CALLS, {"deal_id": deal.id, "contact_id": contact.id})
    task_lines, call_lines = _tasks_and_calls(
        tasks.all(), calls.all(), names, recordings_dir, min_talk
    )
    return DealCard(
        id=deal.id,
        title=deal.title,
        status=deal.status,
        source=deal.source,
        responsible=_name(names, deal.responsible_manager_id),
        created_at=deal.created_at,
        contact=contact,
        history=tuple(
            StatusEntry(
                h.changed_at,
                h.from_status,
                h.to_status,
                h.changed_by,
                h.kind,
                _name(names, h.from_manager_id),
                _name(names, h.to_manager_id),
            )
            for h in history
        ),
        tasks=task_lines,
        calls=call_lines,
        notes=await deal_notes(session, deal.id),
        responsible_id=deal.responsible_manager_id,
    )


# The columns the card's task and call lines read (rows of these behave like the ORM objects
# for `_tasks_and_calls`).
_TASK_COLUMNS = (
    Task.id,
    Task.type,
    Task.status,
    Task.due_at,
    Task.responsible_manager_id,
    Task.comment,
    Task.close_reason,
    Task.created_at,
    Task.closed_at,
    Task.purpose,
    Task.contact_id,
    Task.closed_by_call_id,
)
_CALL_COLUMNS = (
    Call.id,
    Call.started_at,
    Call.direction,
    Call.disposition,
    Call.answered_by_manager_id,
    Call.manager_id,
    Call.ring_seconds,
    Call.talk_seconds,
    Call.recording_file,
    Call.missed,
    Call.recovered_by_call_id,
    Call.recovered_at,
    Call.contact_id,
    Call.answered_at,
)

# The card's statements, built once (a card is asked for on every click, and
# building a statement costs more CPU than the database takes to answer it).
_DEAL_HEAD = (
    select(
        Deal.id,
        Deal.title,
        Deal.status,
        Deal.source,
        Deal.responsible_manager_id,
        Deal.created_at,
        Contact.id.label("contact_id"),
        Contact.phone.label("contact_phone"),
        Contact.name.label("contact_name"),
    )
    .join(Contact, Contact.id == Deal.contact_id)
    .where(Deal.id == bindparam("deal_id"))
)
_DEAL_HISTORY = (
    select(
        DealStatusChange.changed_at,
        DealStatusChange.from_status,
        DealStatusChange.to_status,
        DealStatusChange.changed_by,
        DealStatusChange.kind,
        DealStatusChange.from_manager_id,
        DealStatusChange.to_manager_id,
    )
    .where(DealStatusChange.deal_id == bindparam("deal_id"))
    .order_by(DealStatusChange.id)
)
_DEAL_TASKS = select(*_TASK_COLUMNS).where(Task.deal_id == bindparam("deal_id")).order_by(Task.id)
# Two index look-ups, not an OR the planner may answer by scanning every call in time order.
_DEAL_CALLS = (
    select(*_CALL_COLUMNS)
    .where(
        Call.id.in_(
            select(Call.id)
            .where(Call.deal_id == bindparam("deal_id"))
            .union_all(select(Call.id).where(Call.contact_id == bindparam("contact_id")))
        )
    )
    .order_by(Call.started_at, Call.id)
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


def _task_line(task: Any, names: dict[int, str]) -> TaskLine:
    """`task`: a Task or a row of _TASK_COLUMNS."""
    return TaskLine(
        id=task.id,
        type=task.type,
        status=task.status,
        due_at=task.due_at,
        responsible=_name(names, task.responsible_manager_id),
        comment=task.comment,
        close_reason=task.close_reason,
        created_at=task.created_at,
        closed_at=task.closed_at,
        responsible_id=task.responsible_manager_id,
        purpose=task.purpose,
    )


def _call_line(call: Any, names: dict[int, str]) -> CallLine:
    """`call`: a Call or a row of _CALL_COLUMNS."""
    return CallLine(
        id=call.id,
        started_at=call.started_at,
        direction=call.direction,
        disposition=call.disposition,
        manager=_name(names, call.answered_by_manager_id or call.manager_id),
        ring_seconds=call.ring_seconds,
        talk_seconds=call.talk_seconds,
        recording=call.recording_file,
        missed=call.missed,
        recovered_by_call_id=call.recovered_by_call_id,
    )


async def _manager_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(Manager.id, Manager.name))
    return {manager_id: name for manager_id, name in rows.all()}


def _name(names: dict[int, str], manager_id: int | None) -> str | None:
    return names.get(manager_id) if manager_id is not None else None


@dataclass(frozen=True)
class DealLine:
    """A deal on a contact card."""

    id: int
    title: str | None
    status: str
    source: str
    responsible: str | None
    created_at: datetime


@dataclass(frozen=True)
class ContactCard:
    """A client: phones, responsible manager, every deal and every call (with its recording)."""

    id: int
    name: str | None
    phones: tuple[str, ...]  # E.164; one per contact today
    responsible: str | None
    created_at: datetime
    deals: tuple[DealLine, ...]  # oldest first
    tasks: tuple[TaskLine, ...]
    calls: tuple[CallLine, ...]  # every call with the contact's number, oldest first


async def contact_card(
    session: AsyncSession,
    contact_id: int,
    *,
    recordings_dir: Path | None = None,
    min_talk: float = 10.0,
) -> ContactCard:
    """The contact with all its deals, tasks and calls; NotFound if there is none
    (`recordings_dir` and `min_talk` as for `deal_card`)."""
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact #{contact_id}")
    names = await _manager_names(session)
    deals = await session.scalars(
        select(Deal).where(Deal.contact_id == contact.id).order_by(Deal.id)
    )
    tasks = await session.scalars(
        select(Task).where(Task.contact_id == contact.id).order_by(Task.id)
    )
    calls = await session.scalars(
        select(Call).where(Call.contact_id == contact.id).order_by(Call.started_at, Call.id)
    )
    task_lines, call_lines = _tasks_and_calls(
        tasks.all(), calls.all(), names, recordings_dir, min_talk
    )
    return ContactCard(
        id=contact.id,
        name=contact.name,
        phones=(contact.phone,),
        responsible=_name(names, contact.responsible_manager_id),
        created_at=contact.created_at,
        deals=tuple(
            DealLine(
                d.id,
                d.title,
                d.status,
                d.source,
                _name(names, d.responsible_manager_id),
                d.created_at,
            )
            for d in deals
        ),
        tasks=task_lines,
        calls=call_lines,
    )


def recording_missing(recording: str | None, recordings_dir: Path | None) -> bool:
    """True when a recording is named but no file is there (relative names are under
    `recordings_dir`); False without a recordings folder to look in."""
    if not recording or recordings_dir is None:
        return False
    path = Path(recording)
    return not (path if path.is_absolute() else recordings_dir / path).is_file()


def _tasks_and_calls(
    tasks: Sequence[Any],
    calls: Sequence[Any],
    names: dict[int, str],
    recordings_dir: Path | None,
    min_talk: float,
) -> tuple[tuple[TaskLine, ...], tuple[CallLine, ...]]:
    """Task and call lines, with each miss's and call-back's short answered calls as attempts."""
    attempts = {m.id: _attempts_after(m, calls, min_talk) for m in calls if m.missed}
    call_lines = tuple(
        replace(
            _call_line(c, names),
            recording_missing=recording_missing(c.recording_file, recordings_dir),
            attempts=attempts.get(c.id, ()),
        )
        for c in calls
    )
    task_lines = []
    for task in tasks:
        line = _task_line(task, names)
        if task.purpose == TaskPurpose.CALLBACK.value:
            # The misses this call-back is about: recovered by the call that closed it, or
            # (still open) not recovered yet.
            mine = [
                m
                for m in calls
                if m.missed
                and m.contact_id == task.contact_id
                and (
                    m.recovered_by_call_id == task.closed_by_call_id
                    if task.closed_by_call_id is not None
                    else m.recovered_at is None and task.status == TaskStatus.OPEN.value
                )
            ]
            ids = sorted({a for m in mine for a in attempts.get(m.id, ())})
            line = replace(line, attempts=tuple(ids))
        task_lines.append(line)
    return tuple(task_lines), call_lines


def _attempts_after(missed: Any, calls: Sequence[Any], min_talk: float) -> tuple[int, ...]:
    """Answered calls with the same contact shorter than `min_talk`, after `missed` and before
    it was recovered."""
    return tuple(
        c.id
        for c in calls
        if c.contact_id == missed.contact_id
        and not c.missed
        and c.answered_at is not None
        and c.talk_seconds < min_talk
        and c.started_at > missed.started_at
        and (missed.recovered_at is None or c.started_at < missed.recovered_at)
    )
